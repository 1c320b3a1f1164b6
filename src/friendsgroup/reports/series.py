"""Counts over time: a group's members, an instrument's commitments, at each interval's end."""

import heapq
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from ..errors import validation_problem
from ..models import Event, Instrument, same_day_place
from ..timeutil import interval_ends, isoformat_z
from .announced import announcements_of
from .visibility import moments, visible_at

GROUP_TIMELINE = (
    select(Event.participant_id, Event.type, Event.effective_on, Event.earliest_on)
    .where(
        Event.group_id == bindparam("group_id"),
        visible_at(bindparam("known_at")),
        # An accession pending on a point (earliest_on <= point < effective_on) may take
        # effect after ``end``: the series reads it too, so that no point depends on ``to``.
        or_(
            Event.effective_on <= bindparam("end"),
            and_(Event.type == "accession", Event.earliest_on <= bindparam("end")),
        ),
    )
    .order_by(Event.effective_on, same_day_place())
)


def counts_series(
    session: Session,
    group,
    start: date | None,
    end: date | None,
    interval: str,
    known_at: datetime | None,
) -> dict:
    """Membership counts at the end of each interval, in one pass over the group's events."""
    end, known_at = moments(end, known_at)
    # Without ``from``, the series starts when the group did, or at ``to`` if that is earlier
    # (a group dated ahead): a plain request never fails on a parameter it did not send.
    start = start or min(group.established_on, end)
    points_at = _points(start, end, interval)
    params = {"group_id": group.id, "known_at": known_at, "end": end}
    rows = session.connection().execute(GROUP_TIMELINE, params).all()
    # Days as ordinals: the loop below runs once per point, up to 10,000 times.
    events = [
        (effective_on.toordinal(), kind == "accession", participant)
        for participant, kind, effective_on, _ in rows
    ]
    windows = sorted(
        (earliest_on.toordinal(), effective_on.toordinal(), participant)
        for participant, kind, effective_on, earliest_on in rows
        if kind == "accession" and earliest_on is not None
    )
    announcements = announcements_of(session, group, known_at)
    announced_on = [(a.as_of.toordinal(), a.count, a.bound) for a in announcements]
    member: set[int] = set()
    active: list[tuple[int, int]] = []  # heap of (window end, participant)
    next_event = next_window = next_announcement = 0
    announced = announced_bound = None
    possibly = 0
    interval_start = start.toordinal()
    points = []
    for point in points_at:
        day = point.toordinal()
        joined = left = 0
        changed = False
        while next_event < len(events) and events[next_event][0] <= day:
            effective, accession, participant = events[next_event]
            next_event += 1
            counted = effective >= interval_start
            if accession:
                member.add(participant)
                joined += counted
            else:
                member.discard(participant)
                left += counted
            changed = True
        while next_window < len(windows) and windows[next_window][0] <= day:
            heapq.heappush(active, windows[next_window][1:])
            next_window += 1
            changed = True
        while active and active[0][0] <= day:
            heapq.heappop(active)
            changed = True
        while next_announcement < len(announced_on) and announced_on[next_announcement][0] <= day:
            _, announced, announced_bound = announced_on[next_announcement]
            next_announcement += 1
        if changed:
            possibly = len({participant for _, participant in active} - member)
        points.append(
            {
                "date": point.isoformat(),
                "count": len(member),
                "joined": joined,
                "left": left,
                "possibly_members": possibly,
                "announced": announced,
                "announced_bound": announced_bound,
            }
        )
        interval_start = day + 1
    return {
        "group": group.slug,
        "interval": interval,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "known_at": isoformat_z(known_at),
        "points": points,
    }


def _points(start: date, end: date, interval: str) -> list[date]:
    """The point dates, or 422 when the range is empty or too long."""
    if start > end:
        raise validation_problem("from", "must not be after 'to'")
    points = interval_ends(start, end, interval, limit=MAX_POINTS)
    if points is None:
        raise validation_problem(
            "interval", f"the series would have more than {MAX_POINTS} points; widen the interval"
        )
    return points


MAX_POINTS = 10_000


def _day_after(day: date) -> date:
    """The next day; the last point of a series may fall on date.max, and nothing follows it."""
    return day if day == date.max else day + timedelta(days=1)


def instrument_counts(
    session: Session,
    instrument: Instrument,
    start: date | None,
    end: date | None,
    interval: str,
    known_at: datetime | None,
) -> dict:
    """Committed participants at the end of each interval, in one pass over the events."""
    end, known_at = moments(end, known_at)
    start = start or min(instrument.adopted_on, end)  # as for a group's series
    points_at = _points(start, end, interval)
    rows = session.execute(
        select(Event.participant_id, Event.type, Event.effective_on)
        .where(
            Event.instrument_id == instrument.id, visible_at(known_at), Event.effective_on <= end
        )
        .order_by(Event.effective_on, same_day_place())
    ).all()
    committed: set[int] = set()
    reported: set[int] = set()
    next_event = 0
    interval_start = start
    points = []
    for point in points_at:
        joined = left = reports = 0
        while next_event < len(rows) and rows[next_event].effective_on <= point:
            row = rows[next_event]
            next_event += 1
            counted = row.effective_on >= interval_start
            if row.type == "commitment":
                joined += counted and row.participant_id not in committed
                committed.add(row.participant_id)
            elif row.type == "withdrawal":
                committed.discard(row.participant_id)
                left += counted
            else:
                reported.add(row.participant_id)
                reports += counted
        points.append(
            {
                "date": point.isoformat(),
                "count": len(committed),
                "joined": joined,
                "left": left,
                "reports": reports,
                "reported": len(committed & reported),
            }
        )
        interval_start = _day_after(point)
    return {
        "instrument": instrument.slug,
        "interval": interval,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "known_at": isoformat_z(known_at),
        "points": points,
    }
