"""What the registry knew at an instant: the filters every report applies to events."""

from datetime import date, datetime

from sqlalchemy import and_, or_, select

from ..models import Event
from ..timeutil import today, utcnow


def visible_at(known_at: datetime):
    """Events the registry knew at ``known_at`` and had not retracted by then."""
    return and_(
        Event.recorded_at <= known_at,
        or_(Event.retracted_at.is_(None), Event.retracted_at > known_at),
    )


def recorded_by(known_at: datetime):
    """Events recorded by ``known_at``, retracted or not."""
    return Event.recorded_at <= known_at


def moments(as_of: date | None, known_at: datetime | None) -> tuple[date, datetime]:
    """``as_of`` and ``known_at`` with their defaults: today and now."""
    return as_of or today(), known_at or utcnow()


def events_known(known_at: datetime, *conditions, include_retracted: bool = False):
    """Events matching ``conditions`` that the registry held at ``known_at``.

    Retracted events are left out unless ``include_retracted``; the caller orders and pages.
    """
    held = recorded_by(known_at) if include_retracted else visible_at(known_at)
    return select(Event).where(*conditions, held)
