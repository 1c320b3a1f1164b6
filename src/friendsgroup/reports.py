"""Read-only derivations from events: periods, members on a date, counts over time.

Every function takes ``as_of`` (valid time) and ``known_at`` (transaction time): it sees
the events recorded by ``known_at`` and not retracted by then (SPEC §2).
"""

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from .errors import validation_problem
from .intervals import interval_ends
from .models import RELIABILITIES, Announcement, Event, Group, Instrument, Participant, Source
from .timeutil import isoformat_z, today, utcnow

UNKNOWN_REGION = "Unknown"


def visible_at(known_at: datetime):
    """Events the registry knew at ``known_at`` and had not retracted by then."""
    return and_(
        Event.recorded_at <= known_at,
        or_(Event.retracted_at.is_(None), Event.retracted_at > known_at),
    )


def recorded_by(known_at: datetime):
    """Events recorded by ``known_at``, retracted or not."""
    return Event.recorded_at <= known_at


def _defaults(as_of: date | None, known_at: datetime | None) -> tuple[date, datetime]:
    return as_of or today(), known_at or utcnow()


# --- periods of one participant -------------------------------------------------------


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
    as_of, known_at = _defaults(as_of, known_at)
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
        .order_by(Event.effective_on, Event.id)
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


# --- announcements ----------------------------------------------------------------------

RELIABILITY_RANK = {name: rank for rank, name in enumerate(reversed(RELIABILITIES))}

ANNOUNCEMENTS = (
    select(
        Announcement.id,
        Announcement.as_of,
        Announcement.count,
        Announcement.note,
        Source.url,
        Source.title,
        Source.publisher,
        Source.published_on,
        Source.reliability,
    )
    .outerjoin(Source, Source.announcement_id == Announcement.id)
    .where(
        Announcement.group_id == bindparam("group_id"),
        Announcement.recorded_at <= bindparam("known_at"),
    )
)


def announcements_of(session: Session, group, known_at: datetime) -> list:
    """The group's announcements known at ``known_at``, in the order a later one wins.

    On the same date, a more reliable announcement wins over a less reliable one.
    """
    params = {"group_id": group.id, "known_at": known_at}
    rows = session.connection().execute(ANNOUNCEMENTS, params).all()
    return sorted(rows, key=lambda a: (a.as_of, RELIABILITY_RANK.get(a.reliability, -1), a.id))


def source_dict(source) -> dict | None:
    """A source (an ORM row or a result row with the same fields) as JSON."""
    if source is None or source.url is None:
        return None
    return {
        "url": source.url,
        "title": source.title,
        "publisher": source.publisher,
        "published_on": source.published_on.isoformat() if source.published_on else None,
        "reliability": source.reliability,
    }


def latest_announcement(announcements: list, on: date):
    """The winning announcement on or before ``on``."""
    latest = None
    for announcement in announcements:
        if announcement.as_of > on:
            break
        latest = announcement
    return latest


# --- members of a group on a date ---------------------------------------------------------


def _members_statement():
    """Members on ``as_of`` and, in the same answer, the accessions still pending then.

    Each participant's last visible event on or before ``as_of`` decides: periods alternate,
    so an accession there makes a member, since its date. The pending accessions (an
    uncertain window ``earliest_on <= as_of < effective_on``) come as rows of their own
    (``row = 'pending'``), so that one statement answers the whole report. Built once: the
    report is a lookup, and rebuilding the statement would cost more than running it.
    """
    ranked = (
        select(
            Event.participant_id,
            Event.type,
            Event.effective_on,
            Event.earliest_on,
            func.row_number()
            .over(
                partition_by=Event.participant_id,
                order_by=(Event.effective_on.desc(), Event.id.desc()),
            )
            .label("rank"),
        )
        .where(
            Event.group_id == bindparam("group_id"),
            visible_at(bindparam("known_at")),
            Event.effective_on <= bindparam("as_of"),
        )
        .subquery("last_events")
    )
    members = (
        select(
            literal("member").label("row"),
            ranked.c.participant_id,
            ranked.c.effective_on,
            ranked.c.earliest_on,
            Participant.code,
            Participant.name,
            Participant.kind,
            Participant.region,
        )
        .join(Participant, Participant.id == ranked.c.participant_id)
        .where(ranked.c.rank == 1, ranked.c.type == "accession")
    )
    pending = select(
        literal("pending").label("row"),
        Event.participant_id,
        Event.effective_on,
        Event.earliest_on,
        null(),
        null(),
        null(),
        null(),
    ).where(
        Event.group_id == bindparam("group_id"),
        visible_at(bindparam("known_at")),
        Event.type == "accession",
        Event.earliest_on <= bindparam("as_of"),
        Event.effective_on > bindparam("as_of"),
    )
    both = union_all(members, pending).subquery("report")
    return select(both).order_by(both.c.row, both.c.name, both.c.code)


MEMBERS = _members_statement()


def members_report(session: Session, group, as_of: date | None, known_at: datetime | None) -> dict:
    """Members of ``group`` on ``as_of`` as known at ``known_at`` (SPEC §3 Reports)."""
    as_of, known_at = _defaults(as_of, known_at)
    params = {"group_id": group.id, "as_of": as_of, "known_at": known_at}
    # Core execution: the statement needs none of the ORM's work on results.
    rows = session.connection().execute(MEMBERS, params)
    listed, by_kind, by_region = [], Counter(), Counter()
    member_ids, pending_ids = set(), set()
    for row, participant, effective_on, earliest_on, code, name, kind, region in rows:
        if row == "pending":
            pending_ids.add(participant)
            continue
        member_ids.add(participant)
        listed.append(
            {
                "code": code,
                "name": name,
                "kind": kind,
                "region": region,
                "member_since": effective_on.isoformat(),
                "date_uncertain": earliest_on is not None,
            }
        )
        by_kind[kind] += 1
        if kind == "country":
            by_region[region or UNKNOWN_REGION] += 1
    announcement = latest_announcement(announcements_of(session, group, known_at), as_of)
    return {
        "group": group.slug,
        "as_of": as_of.isoformat(),
        "known_at": isoformat_z(known_at),
        "count": len(listed),
        "possibly_members": len(pending_ids - member_ids),
        "by_kind": dict(sorted(by_kind.items())),
        "by_region": dict(sorted(by_region.items())),
        "announced": _announced(announcement, len(listed)),
        "members": listed,
    }


def _announced(announcement, count: int) -> dict | None:
    if announcement is None:
        return None
    return {
        "as_of": announcement.as_of.isoformat(),
        "count": announcement.count,
        "source": source_dict(announcement),
        "note": announcement.note,
        "difference": count - announcement.count,
    }


# --- counts over time -------------------------------------------------------------------------


GROUP_TIMELINE = (
    select(Event.participant_id, Event.type, Event.effective_on, Event.earliest_on)
    .where(
        Event.group_id == bindparam("group_id"),
        visible_at(bindparam("known_at")),
        Event.effective_on <= bindparam("end"),
    )
    .order_by(Event.effective_on, Event.id)
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
    start = start or group.established_on
    end, known_at = _defaults(end, known_at)
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
    announced_on = [(a.as_of.toordinal(), a.count) for a in announcements]
    member: set[int] = set()
    active: list[tuple[int, int]] = []  # heap of (window end, participant)
    next_event = next_window = next_announcement = 0
    announced = None
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
            announced = announced_on[next_announcement][1]
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


# --- instruments ------------------------------------------------------------------------------


def instrument_participants(
    session: Session,
    instrument: Instrument,
    as_of: date | None,
    known_at: datetime | None,
    members_of: Group | None = None,
) -> dict:
    """Who is committed to ``instrument`` on ``as_of``, to which provisions, and who reported."""
    as_of, known_at = _defaults(as_of, known_at)
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
        .order_by(Event.effective_on, Event.id)
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


def instrument_counts(
    session: Session,
    instrument: Instrument,
    start: date | None,
    end: date | None,
    interval: str,
    known_at: datetime | None,
) -> dict:
    """Committed participants at the end of each interval, in one pass over the events."""
    start = start or instrument.adopted_on
    end, known_at = _defaults(end, known_at)
    points_at = _points(start, end, interval)
    rows = session.execute(
        select(Event.participant_id, Event.type, Event.effective_on)
        .where(
            Event.instrument_id == instrument.id, visible_at(known_at), Event.effective_on <= end
        )
        .order_by(Event.effective_on, Event.id)
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
