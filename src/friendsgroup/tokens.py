"""API tokens: made by the CLI, stored as SHA-256 hashes, found by secret in constant time."""

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ApiToken
from .timeutil import utcnow

TOKEN_PREFIX = "fg_"


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str) -> str:
    """Store a new token under ``name`` and return its secret (shown once)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=hash_token(secret)))
    session.flush()
    return secret


def revoke_token(session: Session, name: str) -> bool:
    """Revoke the named token; False when there is no such active token."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if token is None:
        return False
    token.revoked_at = utcnow()
    return True


def find_active_token(session: Session, secret: str) -> ApiToken | None:
    """The active token with this secret, or None."""
    digest = hash_token(secret)
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).one_or_none()
    # The lookup is by hash, so timing reveals nothing of the secret; compare anyway so a
    # future change to the lookup cannot turn into a timing oracle.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token
