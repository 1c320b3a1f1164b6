"""Clock and timestamp helpers: every timestamp is timezone-aware UTC."""

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC, the default ``as_of``."""
    return utcnow().date()


def isoformat_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a trailing ``Z``, microseconds kept so that it round-trips."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"
