"""Who is calling and what they may do: the bearer token, its expiry and its scopes."""

from dataclasses import dataclass

from flask import Flask, g, request

from ..db import get_db, get_session
from ..errors import bad_request, forbidden, unauthorized
from ..models import Event
from ..timeutil import utcnow
from ..tokens import allows, find_token, is_expired, needs_touch, touch_token

REALM = 'Bearer realm="friendsgroup"'


def invalid_token(detail: str):
    """401 for a token that was sent but cannot be used (RFC 6750 ``invalid_token``)."""
    problem = unauthorized(detail)
    problem.headers["WWW-Authenticate"] = f'{REALM}, error="invalid_token"'
    return problem


def insufficient_scope(required: str):
    """403 for a valid token whose scopes do not cover the request (RFC 6750 §3.1)."""
    return forbidden(
        "insufficient-scope",
        "Insufficient scope",
        f"this token may not {request.method} {request.path}: that needs the scope {required!r}",
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{required}"'},
    )


@dataclass(frozen=True)
class Caller:
    """Who is writing: the token's id, name and scopes (None: every right)."""

    token_id: int
    name: str
    scopes: tuple[str, ...] | None = None

    def may(self, required: str) -> bool:
        """True when the token's scopes cover ``required``."""
        return allows(None if self.scopes is None else list(self.scopes), required)


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
    now = utcnow()
    if database.is_sqlite:
        with database.transaction(write=False) as session:
            token = find_token(session, secret.strip(), now)
    else:
        token = find_token(get_session(), secret.strip(), now)
    if token is None:
        raise invalid_token("the token is unknown, revoked or rotated out")
    if is_expired(token, now):
        raise invalid_token(f"the token expired at {token.expires_at.isoformat()}")
    if needs_touch(token, now):
        # Its own short transaction: the last use must not hold a lock on the token's row
        # for the length of the request, nor vanish when the request is refused.
        with database.transaction() as session:
            touch_token(session, token.id, now)
    scopes = None if token.scopes is None else tuple(token.scopes)
    g.caller = Caller(token.id, token.name, scopes)
    return g.caller


def current_caller() -> Caller | None:
    """The request's authenticated caller, if it got that far."""
    return g.get("caller")


def current_token_name() -> str:
    """Who is recording: the name of the request's token."""
    return g.caller.name


def require_scope(caller: Caller, required: str) -> None:
    """403 unless the caller's token covers ``required``."""
    if not caller.may(required):
        raise insufficient_scope(required)


# --- the scope each write needs -------------------------------------------------------------

# Write endpoint (or blueprint, for one whose every write needs the same scope) → the scope it
# needs. ``{slug}`` is the path's slug; ``{event}`` the group or instrument of the path's event.
# A write endpoint missing here needs ``write`` (and a test fails until it is added).
WRITE_SCOPES = {
    "groups.Groups": "write",
    "groups.Accessions": "groups:{slug}:write",
    "groups.GroupWithdrawals": "groups:{slug}:write",
    "groups.Announcements": "announcements:write",
    "instruments.Instruments": "write",
    "instruments.Commitments": "instruments:{slug}:write",
    "instruments.Reports": "instruments:{slug}:write",
    "instruments.InstrumentWithdrawals": "instruments:{slug}:write",
    "participants.Participants": "participants:write",
    "participants.ParticipantDetail": "participants:write",
    "announcements": "announcements:write",
    "events.Retraction": "{event}:write",
    "events.Correction": "{event}:write",
    "webhooks": "webhooks:manage",
}


def scope_template(endpoint: str) -> str | None:
    """The entry of ``WRITE_SCOPES`` for an endpoint, by its name or its blueprint's."""
    return WRITE_SCOPES.get(endpoint) or WRITE_SCOPES.get(endpoint.partition(".")[0])


def required_scope() -> str | None:
    """The scope the current write needs; None when its event does not exist (the view 404s)."""
    template = scope_template(request.endpoint or "") or "write"
    args = request.view_args or {}
    if "{event}" in template:
        event = get_session().get(Event, args.get("event_id"))
        if event is None:
            return None
        target = (
            f"groups:{event.group.slug}" if event.group else f"instruments:{event.instrument.slug}"
        )
        template = template.replace("{event}", target)
    return template.replace("{slug}", str(args.get("slug", "")))


def authorize(caller: Caller) -> None:
    """403 unless the caller may make the current write."""
    if caller.scopes is None:
        return
    required = required_scope()
    if required is not None:
        require_scope(caller, required)


# --- no token in the URL --------------------------------------------------------------------


def refuse_token_in_query() -> None:
    """400 for ``?access_token=``: a URL is logged, cached and sent on as a Referer."""
    if "access_token" in request.args:
        raise bad_request(
            "send the token in an 'Authorization: Bearer <token>' header, never in the URL",
            type_="token-in-url",
            title="Token in the URL",
            field="access_token",
        )


def register(app: Flask) -> None:
    """Refuse a token in the query string before anything else reads the request."""
    app.before_request(refuse_token_in_query)
