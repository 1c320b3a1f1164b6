"""The groups and instruments a path names, or 404 (the API's and the pages' alike)."""

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .db import get_session
from .errors import not_found
from .models import Group, Instrument

# Built once: every write and page looks a group up, and building costs more than running.
GROUP_BY_SLUG = select(Group).where(Group.slug == bindparam("slug"))


def find_group(session: Session, slug: str) -> Group | None:
    """The group with this slug, or None."""
    return session.scalars(GROUP_BY_SLUG, {"slug": slug}).one_or_none()


def get_group_or_404(session: Session, slug: str) -> Group:
    """The group with this slug, or 404."""
    group = find_group(session, slug)
    if group is None:
        raise not_found("group", slug)
    return group


@dataclass(frozen=True)
class GroupRef:
    """What a report or an event's rules need of a group."""

    id: int
    slug: str
    established_on: date
    member_kinds: tuple[str, ...]


GROUP_CACHE = "friendsgroup.groups"


def group_ref_or_404(slug: str) -> GroupRef:
    """The group for a report, from a per-process cache.

    Groups are never changed or deleted once created (the API has no such operation), so a
    process may keep what it looked up; an unknown slug is looked up every time.
    """
    cache = current_app.extensions.setdefault(GROUP_CACHE, {})
    ref = cache.get(slug)
    if ref is None:
        group = get_group_or_404(get_session(), slug)
        ref = cache[slug] = GroupRef(
            group.id, group.slug, group.established_on, tuple(group.member_kinds)
        )
    return ref


def get_instrument_or_404(session: Session, slug: str) -> Instrument:
    """The instrument with this slug, or 404."""
    instrument = session.scalars(select(Instrument).where(Instrument.slug == slug)).one_or_none()
    if instrument is None:
        raise not_found("instrument", slug)
    return instrument
