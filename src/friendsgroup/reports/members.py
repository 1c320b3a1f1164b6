"""Members of a group on a date, with the accessions still pending then."""

from collections import Counter
from datetime import date, datetime

from sqlalchemy import bindparam, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from ..models import Announcement, Event, Participant, Source, same_day_place
from ..timeutil import isoformat_z
from .announced import (
    ANNOUNCEMENT_COLUMNS,
    AnnouncementRow,
    announced_block,
    announcement_rows,
    in_winning_order,
    latest_announcement,
)
from .evidence import PendingAccession, possible_members, strongest_reliability, strongest_sources
from .visibility import moments, visible_at

UNKNOWN_REGION = "Unknown"
# What only an announcement's rows of the report fill: ``AnnouncementRow`` but for its id,
# date and reliability, which take the columns of an event's.
ANNOUNCED_ONLY = [c for c in ANNOUNCEMENT_COLUMNS if c.key not in ("id", "as_of", "reliability")]


def _members_statement():
    """Members on ``as_of`` and, in the same answer, the accessions still pending then and
    the announced totals up to then.

    Each participant's last visible event on or before ``as_of`` decides: periods alternate,
    so an accession there makes a member, since its date. The pending accessions (an
    uncertain window ``earliest_on <= as_of < effective_on``) come as rows of their own
    (``row = 'pending'``), with the reliability of their strongest source, and so do the
    group's visible announcements of ``as_of`` or earlier (``row = 'announced'``: their date
    as ``effective_on``, a source's reliability as ``rated``, the rest in columns of their
    own), so that one statement answers the whole report. Built once: the report is a
    lookup, and rebuilding the statement would cost more than running it.
    """
    ranked = (
        select(
            Event.id,
            Event.participant_id,
            Event.type,
            Event.effective_on,
            Event.earliest_on,
            func.row_number()
            .over(
                partition_by=Event.participant_id,
                order_by=(Event.effective_on.desc(), same_day_place().desc()),
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
            ranked.c.id,
            ranked.c.participant_id,
            ranked.c.effective_on,
            ranked.c.earliest_on,
            Participant.code,
            Participant.name,
            Participant.kind,
            Participant.region,
            null().label("rated"),
            # Typed: the union takes its columns' types from here (and PostgreSQL, two untyped
            # NULLs in a row as text).
            *(cast(null(), column.type).label(column.key) for column in ANNOUNCED_ONLY),
        )
        .join(Participant, Participant.id == ranked.c.participant_id)
        .where(ranked.c.rank == 1, ranked.c.type == "accession")
    )
    pending = (
        select(
            literal("pending").label("row"),
            Event.id,
            Event.participant_id,
            Event.effective_on,
            Event.earliest_on,
            Participant.code,
            Participant.name,
            Participant.kind,
            null(),
            strongest_reliability(Event.id),
            *(null() for _ in ANNOUNCED_ONLY),
        )
        .join(Participant, Participant.id == Event.participant_id)
        .where(
            Event.group_id == bindparam("group_id"),
            visible_at(bindparam("known_at")),
            Event.type == "accession",
            Event.earliest_on <= bindparam("as_of"),
            Event.effective_on > bindparam("as_of"),
        )
    )
    announced = announcement_rows(
        literal("announced"),
        Announcement.id,
        null(),
        Announcement.as_of,
        *(null() for _ in range(5)),  # earliest_on, code, name, kind, region
        Source.reliability,
        *ANNOUNCED_ONLY,
        where=(Announcement.as_of <= bindparam("as_of"),),
    )
    every = union_all(members, pending, announced).subquery("report")
    return select(every).order_by(every.c.row, every.c.name, every.c.code)


MEMBERS = _members_statement()


def members_report(
    session: Session,
    group,
    as_of: date | None,
    known_at: datetime | None,
    evidence: bool = False,
) -> dict:
    """Members of ``group`` on ``as_of`` as known at ``known_at``.

    The report lists the ``possible_members`` (names, windows and the reliability of their
    strongest source) beside their count. With ``evidence`` (downloads and pages), each
    member also carries its period's ``earliest_on`` and the strongest ``source`` of the
    accession that began it.
    """
    as_of, known_at = moments(as_of, known_at)
    params = {"group_id": group.id, "as_of": as_of, "known_at": known_at}
    # Core execution: the statement needs none of the ORM's work on results.
    rows = session.connection().execute(MEMBERS, params).all()
    listed, by_kind, by_region = [], Counter(), Counter()
    member_ids, event_ids, pending, announced = set(), [], {}, []
    for row, event_id, who, since, earliest_on, code, name, kind, region, rated, *own in rows:
        if row == "announced":
            announced.append(AnnouncementRow(event_id, since, *own, rated))
            continue
        if row == "pending":
            # In name order, as the possible members are listed.
            pending[who] = PendingAccession(event_id, code, name, kind, earliest_on, since, rated)
            continue
        member_ids.add(who)
        event_ids.append(event_id)
        listed.append(
            {
                "code": code,
                "name": name,
                "kind": kind,
                "region": region,
                "member_since": since.isoformat(),
                "date_uncertain": earliest_on is not None,
            }
        )
        if evidence:
            listed[-1]["earliest_on"] = earliest_on.isoformat() if earliest_on else None
        by_kind[kind] += 1
        if kind == "country":
            by_region[region or UNKNOWN_REGION] += 1
    if evidence:
        strongest = strongest_sources(session, event_ids)
        for member, event_id in zip(listed, event_ids, strict=True):
            member["source"] = strongest.get(event_id)
    # A participant both counted and in a window (a rejoin pending) is a member, not possibly.
    possible = possible_members([a for p, a in pending.items() if p not in member_ids])
    announcement = latest_announcement(in_winning_order(announced), as_of)
    return {
        "group": group.slug,
        "as_of": as_of.isoformat(),
        "known_at": isoformat_z(known_at),
        "count": len(listed),
        "possibly_members": len(possible),
        "by_kind": dict(sorted(by_kind.items())),
        "by_region": dict(sorted(by_region.items())),
        "announced": announced_block(announcement, len(listed)),
        "members": listed,
        "possible_members": possible,
    }
