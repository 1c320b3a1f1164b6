"""Creating and removing webhook subscriptions; the secret is returned once, at creation."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import validation_problem
from ..models import Group, Instrument, Webhook
from ..participants import canonical_code, find_participant
from .signing import new_secret
from .targets import TargetRefused, check_target


def create_webhook(
    session: Session, data: dict, created_by: str, allow_private: bool
) -> tuple[Webhook, str]:
    """A new subscription and its signing secret; 422 naming the field at fault."""
    try:
        check_target(data["url"], allow_private)
    except TargetRefused as refused:
        raise validation_problem("url", str(refused)) from None
    groups = _known(session, data.get("groups"), Group, "groups")
    instruments = _known(session, data.get("instruments"), Instrument, "instruments")
    participants = data.get("participants")
    if participants is not None:
        participants = [canonical_code(code) for code in participants]
        unknown = [code for code in participants if find_participant(session, code) is None]
        if unknown:
            raise validation_problem("participants", f"no participant {unknown[0]!r}")
    secret = new_secret()
    webhook = Webhook(
        url=data["url"],
        secret=secret,
        groups=groups,
        instruments=instruments,
        participants=participants,
        types=data.get("types"),
        created_by=created_by,
    )
    session.add(webhook)
    session.flush()
    return webhook, secret


def _known(session: Session, slugs: list[str] | None, model, field: str) -> list[str] | None:
    """The slugs, each naming a registered group or instrument, else 422 naming ``field``."""
    if slugs is None:
        return None
    present = set(session.scalars(select(model.slug).where(model.slug.in_(slugs))))
    missing = [slug for slug in slugs if slug not in present]
    if missing:
        raise validation_problem(field, f"no {model.__tablename__[:-1]} {missing[0]!r}")
    return list(dict.fromkeys(slugs))


def remove_webhook(session: Session, webhook_id: int) -> bool:
    """Delete a subscription with its deliveries; False when there is none."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        return False
    session.delete(webhook)
    session.flush()
    return True
