"""Who is calling: the bearer token of a write request, checked against the stored tokens."""

from dataclasses import dataclass

from flask import g, request

from ..db import get_db, get_session
from ..errors import unauthorized
from ..tokens import find_active_token


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
