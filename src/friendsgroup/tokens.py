"""API tokens: made by the CLI, stored as SHA-256 hashes, found by secret in constant time.

A token may be narrowed to scopes (``None`` keeps every right), may expire, and may be
rotated: the new secret works at once, the old one until the end of a grace period.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.orm import Session

from .models import ApiToken
from .timeutil import utcnow

TOKEN_PREFIX = "fg_"
# How long a rotated token's old secret keeps working unless told otherwise.
ROTATION_GRACE = timedelta(hours=24)
# A token's last use is written at most this often, so that reads and writes by one token
# do not each take a write of their own.
TOUCH_EVERY = timedelta(minutes=1)

# The scope grammar: ``write`` (every data write), ``groups:<slug>:write`` and
# ``instruments:<slug>:write`` (``*`` for any), ``participants:write``, ``announcements:write``,
# ``webhooks:manage``, ``audit:read``.
SCOPE_PATTERN = re.compile(
    r"^(?:write|participants:write|announcements:write|webhooks:manage|audit:read"
    r"|(?:groups|instruments):(?:\*|[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?):write)$"
)


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_scope(scope: str) -> str:
    """The scope if the grammar allows it, else ValueError naming it."""
    if not SCOPE_PATTERN.match(scope):
        raise ValueError(f"unknown scope {scope!r}")
    return scope


def allows(scopes: list[str] | None, required: str) -> bool:
    """True when a token with ``scopes`` may do what needs ``required``."""
    if scopes is None or required in scopes:
        return True
    parts = required.split(":")
    if parts[-1] != "write":
        return False
    # ``write`` covers every data write; ``groups:*:write`` every group's.
    return "write" in scopes or (len(parts) == 3 and f"{parts[0]}:*:write" in scopes)


def _new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store a new token under ``name`` and return its secret (shown once)."""
    secret = _new_secret()
    chosen = sorted({check_scope(scope) for scope in scopes}) if scopes else None
    session.add(
        ApiToken(name=name, token_hash=hash_token(secret), scopes=chosen, expires_at=expires_at)
    )
    session.flush()
    return secret


def _active_named(session: Session, name: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).one_or_none()


def revoke_token(session: Session, name: str) -> bool:
    """Revoke the named token; False when there is no such active token."""
    token = _active_named(session, name)
    if token is None:
        return False
    token.revoked_at = utcnow()
    return True


def rotate_token(session: Session, name: str, grace: timedelta = ROTATION_GRACE) -> str | None:
    """A new secret for the named token; the old one ends after ``grace``. None if no such token.

    The token keeps its name, scopes, expiry and idempotency keys: only the secret changes.
    A secret rotated out before is forgotten now, whatever was left of its grace.
    """
    token = _active_named(session, name)
    if token is None:
        return None
    secret = _new_secret()
    token.previous_hash = token.token_hash
    token.previous_ends_at = utcnow() + grace
    token.token_hash = hash_token(secret)
    session.flush()
    return secret


# Built once: every write authenticates with it. Columns, not an entity: a token found is
# only read (a revocation or rotation reads the entity by name).
TOKEN_BY_HASH = select(*ApiToken.__table__.columns).where(
    or_(ApiToken.token_hash == bindparam("digest"), ApiToken.previous_hash == bindparam("digest")),
    ApiToken.revoked_at.is_(None),
)


def find_token(session: Session, secret: str, now: datetime | None = None) -> Row | None:
    """The unrevoked token's columns for this secret (or a rotated-out one, within its grace).

    An expired token is returned too: the caller says "expired" rather than "unknown".
    """
    now = now or utcnow()
    digest = hash_token(secret)
    token = session.connection().execute(TOKEN_BY_HASH, {"digest": digest}).one_or_none()
    if token is None:
        return None
    # The lookup is by hash, so timing reveals nothing of the secret; compare anyway so a
    # future change to the lookup cannot turn into a timing oracle.
    if hmac.compare_digest(token.token_hash, digest):
        return token
    previous = token.previous_hash or ""
    if hmac.compare_digest(previous, digest) and token.previous_ends_at > now:
        return token
    return None


def is_expired(token: ApiToken | Row, now: datetime | None = None) -> bool:
    """True once the token's expiry has passed."""
    return token.expires_at is not None and token.expires_at <= (now or utcnow())


def find_active_token(session: Session, secret: str) -> Row | None:
    """The usable (unrevoked, unexpired) token with this secret, or None."""
    token = find_token(session, secret)
    return None if token is None or is_expired(token) else token


def needs_touch(token: ApiToken | Row, now: datetime | None = None) -> bool:
    """True when the token's last use is older than ``TOUCH_EVERY`` (or unknown)."""
    return token.last_used_at is None or token.last_used_at < (now or utcnow()) - TOUCH_EVERY


def touch_token(session: Session, token_id: int, now: datetime | None = None) -> None:
    """Mark the token used now (at most once per ``TOUCH_EVERY``)."""
    now = now or utcnow()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )
