"""A group's change stamp: it changes with every committed write a group's reports can see."""
# Reports name their participants, so a rename anywhere moves every group's stamp.

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.orm import Session

from ..models import Announcement, Change, Event

RENAMED = "participant.renamed"


@dataclass(frozen=True)
class Stamp:
    """Counts and latest instants of a group's events and announcements.

    History is append-only: a new event or announcement raises a count, a retraction raises
    the count of retracted events (a correction does both). Counts, unlike the latest id or
    instant, also move when transactions commit out of the order they took their ids in.
    """

    events: int
    retracted: int
    last_recorded_at: datetime | None
    last_retracted_at: datetime | None
    announcements: int
    last_announced_at: datetime | None
    renames: int
    last_renamed_at: datetime | None

    def settled_by(self, known_at: datetime) -> bool:
        """True when nothing stamped is later than ``known_at``: a report made at
        ``known_at`` then shows every write stamped, and stays right while the stamp holds.
        (A writer whose clock runs ahead records "in the future"; such a report is not kept.)
        """
        instants = (
            self.last_recorded_at,
            self.last_retracted_at,
            self.last_announced_at,
            self.last_renamed_at,
        )
        return all(instant is None or instant <= known_at for instant in instants)


def _stamp_statement():
    """One round trip: the events' aggregates beside the announcements' and the renames'."""
    group_id = bindparam("group_id")
    events = (
        select(
            func.count().label("events"),
            func.count(Event.retracted_at).label("retracted"),
            func.max(Event.recorded_at).label("last_recorded_at"),
            func.max(Event.retracted_at).label("last_retracted_at"),
        )
        .where(Event.group_id == group_id)
        .subquery("event_stamp")
    )
    announcements = (
        select(
            func.count().label("announcements"),
            func.max(Announcement.recorded_at).label("last_announced_at"),
        )
        .where(Announcement.group_id == group_id)
        .subquery("announcement_stamp")
    )
    renames = (
        select(
            func.count().label("renames"),
            func.max(Change.recorded_at).label("last_renamed_at"),
        )
        .where(Change.type == RENAMED)
        .subquery("rename_stamp")
    )
    # Each side is one row: joined on true, so that no linter sees a forgotten condition.
    joined = events.join(announcements, true()).join(renames, true())
    return select(events, announcements, renames).select_from(joined)


STAMP = _stamp_statement()


def group_stamp(session: Session, group_id: int) -> Stamp:
    """The group's stamp now; read it before the report it validates, never after."""
    row = session.connection().execute(STAMP, {"group_id": group_id}).one()
    return Stamp(*row)
