"""Unique keys of new resources, or 409."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..changes import record_change
from ..errors import conflict
from .auth import current_token_name


def add_unique(session: Session, entity, what: str, key: str, field: str):
    """Add an entity whose slug or code must be unique; 409 naming ``field`` when it is not."""
    session.add(entity)
    try:
        session.flush()
    except IntegrityError as error:
        raise conflict("duplicate", "Duplicate", f"{what} {key!r} exists", field) from error
    record_change(session, "registered", entity, current_token_name())
    return entity
