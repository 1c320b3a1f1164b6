"""Lookups and writes shared by the resource blueprints."""

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import conflict, not_found
from ..models import Group, Instrument


def find_group(session: Session, slug: str) -> Group | None:
    """The group with this slug, or None."""
    return session.scalars(select(Group).where(Group.slug == slug)).one_or_none()


def get_group_or_404(session: Session, slug: str) -> Group:
    """The group with this slug, or 404."""
    group = find_group(session, slug)
    if group is None:
        raise not_found("group", slug)
    return group


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
    return entity


def event_created(event):
    """The 201 answer for a new event, with its ``Location``."""
    return event, 201, {"Location": url_for("events.EventDetail", event_id=event.id)}
