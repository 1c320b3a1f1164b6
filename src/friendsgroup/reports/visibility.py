"""What the registry knew at an instant: the filters every report applies to events."""

from datetime import date, datetime

from sqlalchemy import and_, or_

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
