"""The resources a path names, or 404; unique keys, or 409."""

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..changes import record_change
from ..db import get_session
from ..errors import conflict, not_found
from ..models import Group, Instrument
from .auth import current_token_name


def find_group(session: Session, slug: str) -> Group | None:
    """The group with this slug, or None."""
    return session.scalars(select(Group).where(Group.slug == slug)).one_or_none()


def get_group_or_404(session: Session, slug: str) -> Group:
    """The group with this slug, or 404."""
    group = find_group(session, slug)
    if group is None:
        raise not_found("group", slug)
    return group


@dataclass(frozen=True)
class GroupRef:
    """What a report needs of a group."""

    id: int
    slug: str
    established_on: date


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
        ref = cache[slug] = GroupRef(group.id, group.slug, group.established_on)
    return ref


def get_instrument_or_404(session: Session, slug: str) -> Instrument:
    """The instrument with this slug, or 404."""
    instrument = session.scalars(select(Instrument).where(Instrument.slug == slug)).one_or_none()
    if instrument is None:
        raise not_found("instrument", slug)
    return instrument


def add_unique(session: Session, entity, what: str, key: str, field: str):
    """Add an entity whose slug or code must be unique; 409 naming ``field`` when it is not."""
    session.add(entity)
    try:
        session.flush()
    except IntegrityError as error:
        raise conflict("duplicate", "Duplicate", f"{what} {key!r} exists", field) from error
    record_change(session, "registered", entity, current_token_name())
    return entity
