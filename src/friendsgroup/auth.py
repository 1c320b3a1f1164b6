"""Bearer tokens: made by the CLI, stored as SHA-256 hashes, compared in constant time."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import get_db, get_session
from .errors import Problem
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


def unauthorized(detail: str) -> Problem:
    """401 with the challenge clients need."""
    return Problem(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="friendsgroup"'},
    )


@dataclass(frozen=True)
class Caller:
    """Who is writing: the token's id and name."""

    token_id: int
    name: str


def authenticate() -> Caller:
    """The caller of the current request, or 401.

    On SQLite the token is read in a short transaction of its own, so that the request's
    write transaction (which takes the database lock) starts only when the work does; on
    PostgreSQL the request's own transaction reads it, a round trip fewer.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise unauthorized("this request needs an 'Authorization: Bearer <token>' header")
    database = get_db()
    if database.is_sqlite:
        with database.transaction(write=False) as session:
            token = find_active_token(session, secret.strip())
    else:
        token = find_active_token(get_session(), secret.strip())
    if token is None:
        raise unauthorized("the token is unknown or revoked")
    g.caller = Caller(token.id, token.name)
    return g.caller


def current_token_name() -> str:
    """Who is recording: the name of the request's token."""
    return g.caller.name
