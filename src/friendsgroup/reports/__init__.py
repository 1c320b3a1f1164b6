"""Read-only derivations from events: members on a date, counts over time, standings.

Every report takes ``as_of`` (valid time) and ``known_at`` (transaction time): it sees
the events recorded by ``known_at`` and not retracted by then (README "How the registry decides").
"""
