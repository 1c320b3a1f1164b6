"""Announced totals: which one a report shows on a date, and how it is written."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from ..models import RELIABILITIES, Announcement, Source
from ..timeutil import utcnow

RELIABILITY_RANK = {name: rank for rank, name in enumerate(reversed(RELIABILITIES))}


def announcement_visible_at(known_at):
    """Announcements the registry knew at ``known_at`` and had not retracted by then."""
    return and_(
        Announcement.recorded_at <= known_at,
        or_(Announcement.retracted_at.is_(None), Announcement.retracted_at > known_at),
    )


def announcements_known(args: dict):
    """The filter of an announcement list: ``known_at`` (default now), ``include_retracted``."""
    known_at = args.get("known_at") or utcnow()
    if args.get("include_retracted"):
        return Announcement.recorded_at <= known_at
    return announcement_visible_at(known_at)


class AnnouncementRow(NamedTuple):
    """An announcement with one of its sources (all None when it has none)."""

    id: int
    as_of: date
    count: int
    bound: str
    note: str | None
    url: str | None
    title: str | None
    publisher: str | None
    published_on: date | None
    reliability: str | None


# The columns of ``AnnouncementRow``, in its order.
ANNOUNCEMENT_COLUMNS = (
    Announcement.id,
    Announcement.as_of,
    Announcement.count,
    Announcement.bound,
    Announcement.note,
    Source.url,
    Source.title,
    Source.publisher,
    Source.published_on,
    Source.reliability,
)


def announcement_rows(*columns, where=()):
    """The ``columns`` of the group's announcements visible at ``known_at``, each with each
    of its sources, for those ``where`` also admits (both bound at execution)."""
    return (
        select(*columns)
        .outerjoin(Source, Source.announcement_id == Announcement.id)
        .where(
            Announcement.group_id == bindparam("group_id"),
            announcement_visible_at(bindparam("known_at")),
            *where,
        )
    )


ANNOUNCEMENTS = announcement_rows(*ANNOUNCEMENT_COLUMNS)


def in_winning_order(rows: Iterable) -> list:
    """Announcements in the order a later one wins: by date, then on the same date a more
    reliable one over a less reliable one, then the later recorded."""
    return sorted(rows, key=lambda a: (a.as_of, RELIABILITY_RANK.get(a.reliability, -1), a.id))


def announcements_of(session: Session, group, known_at: datetime) -> list:
    """The group's announcements visible at ``known_at``, in the order a later one wins."""
    params = {"group_id": group.id, "known_at": known_at}
    return in_winning_order(session.connection().execute(ANNOUNCEMENTS, params).all())


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


def announced_block(announcement, count: int) -> dict | None:
    """The ``announced`` block of a report: the winning total and the count's difference.

    ``difference`` is ``count - announced.count`` whatever the bound; the bound says how to
    read it (an ``at_least`` total is consistent with any difference of 0 or more).
    """
    if announcement is None:
        return None
    return {
        "as_of": announcement.as_of.isoformat(),
        "count": announcement.count,
        "bound": announcement.bound,
        "source": source_dict(announcement),
        "note": announcement.note,
        "difference": count - announcement.count,
    }
