"""``make bench``: the performance figures of SPEC §7, each against a floor from the same run."""
