"""The rules of history (README, "How the registry decides"), decided by
``history.timeline_problem`` alone: no database, no HTTP."""

from datetime import date

import pytest

from friendsgroup.history import Step, timeline_problem

D = date.fromisoformat


def steps(*events: tuple[str, str]) -> list[Step]:
    """Recorded steps, in the order given (their ids)."""
    return [Step(kind, D(on), order, order) for order, (kind, on) in enumerate(events, 1)]


def new(kind: str, on: str) -> Step:
    """A step not yet written: after its same-day peers."""
    return Step(kind, D(on), float("inf"))


# (case, recorded history, new step, is a group, expected problem type or None)
GROUP_RULES = [
    ("a first accession", [], ("accession", "2025-01-01"), None),
    ("a withdrawal of a member", [("accession", "2025-01-01")], ("withdrawal", "2025-06-01"), None),
    (
        "a re-accession after a withdrawal",
        [("accession", "2025-01-01"), ("withdrawal", "2025-06-01")],
        ("accession", "2025-09-01"),
        None,
    ),
    (
        "an accession of a member",
        [("accession", "2025-01-01")],
        ("accession", "2025-03-01"),
        "already-member",
    ),
    ("a withdrawal of a non-member", [], ("withdrawal", "2025-03-01"), "not-a-member"),
    (
        "a withdrawal before the accession",
        [("accession", "2025-06-01")],
        ("withdrawal", "2025-03-01"),
        "not-a-member",
    ),
    (
        "a back-dated accession that a later accession contradicts",
        [("accession", "2025-06-01")],
        ("accession", "2025-03-01"),
        "history-conflict",
    ),
    (
        "a back-dated withdrawal inside a period that a later withdrawal closes",
        [("accession", "2025-01-01"), ("withdrawal", "2025-09-01")],
        ("withdrawal", "2025-06-01"),
        "history-conflict",
    ),
    (
        "a same-day withdrawal and re-accession",
        [("accession", "2025-01-01"), ("withdrawal", "2025-06-01")],
        ("accession", "2025-06-01"),
        None,
    ),
    (
        "a same-day second accession",
        [("accession", "2025-06-01")],
        ("accession", "2025-06-01"),
        "already-member",
    ),
]

INSTRUMENT_RULES = [
    ("a first commitment", [], ("commitment", "2025-01-01"), None),
    (
        "a new commitment while committed changes the scope",
        [("commitment", "2025-01-01")],
        ("commitment", "2025-03-01"),
        None,
    ),
    ("a report while committed", [("commitment", "2025-01-01")], ("report", "2025-03-01"), None),
    ("a report without a commitment", [], ("report", "2025-03-01"), "no-active-commitment"),
    (
        "a report after the withdrawal",
        [("commitment", "2025-01-01"), ("withdrawal", "2025-02-01")],
        ("report", "2025-03-01"),
        "no-active-commitment",
    ),
    ("a withdrawal without a commitment", [], ("withdrawal", "2025-03-01"), "not-committed"),
    (
        "a back-dated withdrawal before a report",
        [("commitment", "2025-01-01"), ("report", "2025-06-01")],
        ("withdrawal", "2025-03-01"),
        "history-conflict",
    ),
]


def _cases(rules, is_group):
    return [
        pytest.param(recorded, step, is_group, expected, id=name)
        for name, recorded, step, expected in rules
    ]


@pytest.mark.parametrize(
    ("recorded", "step", "is_group", "expected"),
    _cases(GROUP_RULES, True) + _cases(INSTRUMENT_RULES, False),
)
def test_a_timeline_breaks_the_rule_the_spec_names(recorded, step, is_group, expected):
    problem = timeline_problem(steps(*recorded), new(*step), "target", is_group, "KEN")
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert (problem.status, problem.type) == (409, expected)
        assert problem.errors == {"effective_on": [problem.detail]}


def test_a_history_conflict_names_the_event_it_would_leave_inconsistent():
    recorded = steps(("accession", "2025-01-01"), ("withdrawal", "2025-09-01"))
    problem = timeline_problem(recorded, new("withdrawal", "2025-06-01"), "friends", True, "KEN")
    assert "event 2 (withdrawal of KEN on 2025-09-01)" in problem.detail


def test_an_already_member_problem_says_since_when():
    problem = timeline_problem(
        steps(("accession", "2025-01-01")), new("accession", "2025-03-01"), "friends", True, "KEN"
    )
    assert "member of friends since 2025-01-01" in problem.detail


def test_a_history_without_a_new_step_is_checked_whole():
    """What a retraction asks: does the rest of the history still hold?"""
    assert timeline_problem(steps(("accession", "2025-01-01")), None, "t", True) is None
    broken = timeline_problem(steps(("withdrawal", "2025-01-01")), None, "t", True)
    assert broken.type == "history-conflict"
