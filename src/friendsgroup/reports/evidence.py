"""What a member's place in a report rests on: its strongest source; a possible one's window."""

from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import Participant, Source
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


def possible_members(
    session: Session, windows: dict[int, tuple[date, date]], event_ids: list[int]
) -> list[dict]:
    """The participants of ``windows`` (id → uncertain accession window), sorted by name,
    with the reliability of the strongest source of their accessions (``event_ids``)."""
    if not windows:
        return []
    strongest = strongest_sources(session, event_ids)
    reliability = {participant: None for participant in windows}
    for participant, event_id in zip(windows, event_ids, strict=True):
        reliability[participant] = (strongest.get(event_id) or {}).get("reliability")
    participants = session.execute(
        select(Participant.id, Participant.code, Participant.name, Participant.kind)
        .where(Participant.id.in_(list(windows)))
        .order_by(Participant.name, Participant.code)
    )
    return [
        {
            "code": row.code,
            "name": row.name,
            "kind": row.kind,
            "earliest_on": windows[row.id][0].isoformat(),
            "effective_on": windows[row.id][1].isoformat(),
            "reliability": reliability[row.id],
        }
        for row in participants
    ]
