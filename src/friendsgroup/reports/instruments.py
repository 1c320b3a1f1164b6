"""Who is committed to an instrument on a date, to which provisions, and who reported."""

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event, Group, Instrument, Participant, same_day_place
from ..timeutil import isoformat_z
from .members import members_report
from .standing import Standing
from .visibility import moments, visible_at


def instrument_participants(
    session: Session,
    instrument: Instrument,
    as_of: date | None,
    known_at: datetime | None,
    members_of: Group | None = None,
) -> dict:
    """Who is committed to ``instrument`` on ``as_of``, to which provisions, and who reported."""
    as_of, known_at = moments(as_of, known_at)
    rows = session.execute(
        select(
            Event.participant_id,
            Event.type,
            Event.effective_on,
            Event.earliest_on,
            Event.provisions,
            Participant.code,
            Participant.name,
            Participant.kind,
        )
        .join(Participant, Event.participant_id == Participant.id)
        .where(
            Event.instrument_id == instrument.id, visible_at(known_at), Event.effective_on <= as_of
        )
        .order_by(Event.effective_on, same_day_place())
    )
    standings: dict[int, Standing] = defaultdict(Standing)
    who: dict[int, tuple] = {}
    for row in rows:
        standings[row.participant_id].apply(
            row.type, row.effective_on, row.earliest_on is not None, row.provisions
        )
        who[row.participant_id] = (row.code, row.name, row.kind)
    allowed = None
    if members_of is not None:
        report = members_report(session, members_of, as_of, known_at)
        allowed = {m["code"] for m in report["members"]}
    committed = [
        (who[pid], s)
        for pid, s in standings.items()
        if s.open and (allowed is None or who[pid][0] in allowed)
    ]
    committed.sort(key=lambda item: (item[0][1], item[0][0]))
    numbers = [p.number for p in instrument.provisions]
    by_provision = {
        str(n): sum(1 for _, s in committed if s.provisions is None or n in s.provisions)
        for n in numbers
    }
    full = sum(1 for _, s in committed if _is_full(s.provisions, numbers))
    return {
        "instrument": instrument.slug,
        "as_of": as_of.isoformat(),
        "known_at": isoformat_z(known_at),
        "members_of": members_of.slug if members_of else None,
        "count": len(committed),
        "full": full,
        "partial": len(committed) - full,
        "by_provision": by_provision,
        "reported": sum(1 for _, s in committed if s.last_report_on is not None),
        "participants": [
            {
                "code": code,
                "name": name,
                "kind": kind,
                "committed_since": s.periods[-1]["since"].isoformat(),
                "date_uncertain": s.periods[-1]["since_uncertain"],
                "provisions": s.provisions,
                "full": _is_full(s.provisions, numbers),
                "last_report_on": s.last_report_on.isoformat() if s.last_report_on else None,
            }
            for (code, name, kind), s in committed
        ],
    }


def _is_full(provisions: list[int] | None, numbers: list[int]) -> bool:
    return provisions is None or set(numbers) <= set(provisions)
