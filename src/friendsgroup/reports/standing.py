"""One participant's periods in every group and its status in every instrument."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event, Group, Instrument, Participant, same_day_place
from .visibility import moments, visible_at


@dataclass
class Standing:
    """One participant's derived state in one group or instrument."""

    periods: list[dict] = field(default_factory=list)
    provisions: list[int] | None = None
    last_report_on: date | None = None

    @property
    def open(self) -> bool:
        return bool(self.periods) and self.periods[-1]["until"] is None

    def apply(self, event_type: str, effective_on: date, uncertain: bool, provisions) -> None:
        """Fold one event (in timeline order) into the standing."""
        if event_type in ("accession", "commitment"):
            self.provisions = provisions
            if not self.open:
                self.periods.append(
                    {"since": effective_on, "until": None, "since_uncertain": uncertain}
                )
        elif event_type == "withdrawal":
            if self.open:
                self.periods[-1]["until"] = effective_on
        elif event_type == "report":
            self.last_report_on = effective_on


def participant_standing(
    session: Session, participant: Participant, as_of: date | None, known_at: datetime | None
) -> dict:
    """A participant with its periods per group and its status per instrument on ``as_of``."""
    as_of, known_at = moments(as_of, known_at)
    events = session.execute(
        select(
            Event.type,
            Event.effective_on,
            Event.earliest_on,
            Event.provisions,
            Group.slug.label("group"),
            Instrument.slug.label("instrument"),
        )
        .outerjoin(Group, Event.group_id == Group.id)
        .outerjoin(Instrument, Event.instrument_id == Instrument.id)
        .where(
            Event.participant_id == participant.id,
            Event.effective_on <= as_of,
            visible_at(known_at),
        )
        .order_by(Event.effective_on, same_day_place())
    )
    groups: dict[str, Standing] = defaultdict(Standing)
    instruments: dict[str, Standing] = defaultdict(Standing)
    for row in events:
        standing = groups[row.group] if row.group else instruments[row.instrument]
        standing.apply(row.type, row.effective_on, row.earliest_on is not None, row.provisions)
    return {
        "code": participant.code,
        "name": participant.name,
        "kind": participant.kind,
        "region": participant.region,
        "sub_region": participant.sub_region,
        "url": participant.url,
        "as_of": as_of,
        "known_at": known_at,
        "memberships": [
            {"group": slug, "member": s.open, "periods": s.periods}
            for slug, s in sorted(groups.items())
        ],
        "commitments": [
            {
                "instrument": slug,
                "committed": s.open,
                "provisions": s.provisions if s.open else None,
                "periods": s.periods,
                "last_report_on": s.last_report_on,
            }
            for slug, s in sorted(instruments.items())
        ],
    }
