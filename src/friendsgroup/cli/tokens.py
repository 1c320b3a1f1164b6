"""``friendsgroup token``: make, list, rotate and revoke API tokens."""

import re
from datetime import timedelta

import click
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import watch
from ..db import get_db
from ..models import ApiToken
from ..timeutil import utcnow
from ..tokens import ROTATION_GRACE, check_scope, create_token, revoke_token, rotate_token
from . import app, fail, main
from .auditing import record_command

SCOPES_HELP = (
    "A right the token is narrowed to, given once per scope: write (every data write), "
    "groups:SLUG:write, instruments:SLUG:write (SLUG or * for any), participants:write, "
    "announcements:write, webhooks:manage, audit:read. Without --scope the token may do "
    "everything, including managing webhooks and reading the audit trail."
)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Duration(click.ParamType):
    """A length of time such as ``90d``, ``12h``, ``30m`` or ``2w``."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d{1,6})\s*([smhdw])\s*", str(value))
        if not match or int(match[1]) == 0:
            self.fail(f"{value!r} is not a duration such as 90d, 12h or 30m", param, ctx)
        return timedelta(**{UNITS[match[2]]: int(match[1])})


def _scope(_ctx, _param, values: tuple[str, ...]) -> list[str] | None:
    try:
        return [check_scope(value) for value in values] or None
    except ValueError as error:
        raise click.BadParameter(f"{error}; {SCOPES_HELP}", param_hint="--scope") from None


@main.group()
def token() -> None:
    """Make, list, rotate and revoke API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, callback=_scope, help=SCOPES_HELP)
@click.option("--expires", type=Duration(), help="Expire after this long, e.g. 90d or 12h.")
def token_create(name: str, scopes: list[str] | None, expires: timedelta | None) -> None:
    """Create a token; its secret is printed once and never stored."""

    if not 1 <= len(name) <= 100:
        fail("the name must be 1-100 characters")
    expires_at = utcnow() + expires if expires else None
    try:
        with get_db(app()).transaction() as session:
            watch(session)
            secret = create_token(session, name, scopes, expires_at)
            record_command(session, f"token create {name}")
    except IntegrityError:
        fail(f"a token named {name!r} exists")
    click.echo(secret)
    click.echo(f"token {name!r} created; keep the secret above, it is not shown again", err=True)


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def _state(t: ApiToken, now) -> str:
    if t.revoked_at:
        return f"revoked {_when(t.revoked_at)}"
    if t.expires_at and t.expires_at <= now:
        return "expired"
    if t.previous_ends_at and t.previous_ends_at > now:
        return f"active, old secret until {_when(t.previous_ends_at)}"
    return "active"


@token.command("list")
def token_list() -> None:
    """List tokens: name, scopes, creation, expiry, last use, state (secrets are not kept)."""
    now = utcnow()
    with get_db(app()).transaction(write=False) as session:
        tokens = session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
        if tokens:
            click.echo("name\tscopes\tcreated\texpires\tlast used\tstate")
        for t in tokens:
            scopes = " ".join(t.scopes) if t.scopes is not None else "all"
            cells = [
                t.name,
                scopes,
                _when(t.created_at),
                _when(t.expires_at),
                _when(t.last_used_at),
                _state(t, now),
            ]
            click.echo("\t".join(cells))
        if not tokens:
            click.echo("no tokens; create one with 'friendsgroup token create NAME'")


@token.command("rotate")
@click.argument("name")
@click.option(
    "--grace",
    type=Duration(),
    default="24h",
    show_default=True,
    help="How long the old secret keeps working, e.g. 1h or 7d.",
)
def token_rotate(name: str, grace: timedelta) -> None:
    """Give the token a new secret (printed once); the old one ends after the grace period."""
    with get_db(app()).transaction() as session:
        secret = rotate_token(session, name, grace or ROTATION_GRACE)
        if secret is None:
            fail(f"no active token named {name!r}")
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == name))
        record_command(
            session,
            f"token rotate {name}",
            rows={"rotated": {"api_tokens": [[token_id, token_id]]}},
        )
    click.echo(secret)
    ends = utcnow() + grace
    click.echo(
        f"token {name!r} rotated; the old secret works until {ends:%Y-%m-%d %H:%M} UTC", err=True
    )


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the named token."""
    with get_db(app()).transaction() as session:
        watch(session)
        if not revoke_token(session, name):
            fail(f"no active token named {name!r}")
        record_command(session, f"token revoke {name}")
    click.echo(f"token {name!r} revoked")
