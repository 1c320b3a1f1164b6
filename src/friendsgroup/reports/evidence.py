"""What a member's place in a report rests on: its strongest source; a possible one's window."""

from datetime import date
from typing import NamedTuple

from sqlalchemy import bindparam, case, select
from sqlalchemy.orm import Session

from ..models import Source
from .announced import RELIABILITY_RANK, source_dict

EVENT_SOURCES = select(
    Source.event_id,
    Source.position,
    Source.url,
    Source.title,
    Source.publisher,
    Source.published_on,
    Source.reliability,
).where(Source.event_id.in_(bindparam("event_ids", expanding=True)))


def strongest_sources(session: Session, event_ids: list[int]) -> dict[int, dict]:
    """Each event's most reliable source (the first listed among equals), as JSON."""
    if not event_ids:
        return {}
    best: dict[int, tuple] = {}
    for row in session.connection().execute(EVENT_SOURCES, {"event_ids": event_ids}):
        rank = (RELIABILITY_RANK.get(row.reliability, -1), -row.position)
        if row.event_id not in best or rank > best[row.event_id][0]:
            best[row.event_id] = (rank, row)
    return {event_id: source_dict(row) for event_id, (_, row) in best.items()}


def strongest_reliability(event_id):
    """The reliability of an event's strongest source (None without one), as a scalar
    subquery: a report's own statement carries it, so that it costs no query of its own."""
    rank = case(RELIABILITY_RANK, value=Source.reliability, else_=-1)
    return (
        select(Source.reliability)
        .where(Source.event_id == event_id)
        .order_by(rank.desc())
        .limit(1)
        .scalar_subquery()
    )


class PendingAccession(NamedTuple):
    """An accession whose uncertain window holds the report's date, and its participant."""

    event_id: int
    code: str
    name: str
    kind: str
    earliest_on: date
    effective_on: date
    reliability: str | None  # of its strongest source


def possible_members(pending: list[PendingAccession]) -> list[dict]:
    """The participants of ``pending`` (in the order given), with their windows and the
    reliability of the strongest source of their accessions."""
    return [
        {
            "code": accession.code,
            "name": accession.name,
            "kind": accession.kind,
            "earliest_on": accession.earliest_on.isoformat(),
            "effective_on": accession.effective_on.isoformat(),
            "reliability": accession.reliability,
        }
        for accession in pending
    ]
