"""Clock, timestamps and calendar intervals: every timestamp is timezone-aware UTC."""

from datetime import UTC, date, datetime, timedelta


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


# Calendar intervals of a counts series: the last day of each, clipped to the range.
INTERVALS = ("day", "week", "month", "quarter", "year")


def end_of(day: date, interval: str) -> date:
    """The last day of the interval that contains ``day`` (weeks end on Sunday, ISO 8601)."""
    if interval == "day":
        return day
    if interval == "week":
        # The last week of the calendar ends at date.max, not on a Sunday past it.
        return date.fromordinal(min(day.toordinal() + 6 - day.weekday(), date.max.toordinal()))
    if interval == "year":
        return date(day.year, 12, 31)
    last_month = day.month if interval == "month" else ((day.month - 1) // 3 + 1) * 3
    if last_month == 12:
        return date(day.year, 12, 31)
    return date(day.year, last_month + 1, 1) - timedelta(days=1)


def interval_ends(start: date, end: date, interval: str, limit: int) -> list[date] | None:
    """Point dates from ``start`` to ``end``; None when there would be more than ``limit``."""
    if interval == "day":
        days = end.toordinal() - start.toordinal() + 1
        if days > limit:
            return None
        return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    points: list[date] = []
    day = start
    while day <= end:
        if len(points) == limit:
            return None
        point = min(end_of(day, interval), end)
        points.append(point)
        if point == date.max:
            break
        day = point + timedelta(days=1)
    return points
