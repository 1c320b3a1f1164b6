"""``friendsgroup token``: make, list and revoke API tokens."""

import click
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..db import get_db
from ..models import ApiToken
from ..tokens import create_token, revoke_token
from . import app, fail, main


@main.group()
def token() -> None:
    """Make, list and revoke API tokens."""


@token.command("create")
@click.argument("name")
def token_create(name: str) -> None:
    """Create a token; its secret is printed once and never stored."""

    if not 1 <= len(name) <= 100:
        fail("the name must be 1-100 characters")
    try:
        with get_db(app()).transaction() as session:
            secret = create_token(session, name)
    except IntegrityError:
        fail(f"a token named {name!r} exists")
    click.echo(secret)
    click.echo(f"token {name!r} created; keep the secret above, it is not shown again", err=True)


@token.command("list")
def token_list() -> None:
    """List tokens (names and dates; secrets are not kept)."""
    with get_db(app()).transaction(write=False) as session:
        tokens = session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
        for t in tokens:
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            click.echo(f"{t.name}\tcreated {t.created_at:%Y-%m-%d %H:%M}\t{state}")
        if not tokens:
            click.echo("no tokens; create one with 'friendsgroup token create NAME'")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the named token."""
    with get_db(app()).transaction() as session:
        if not revoke_token(session, name):
            fail(f"no active token named {name!r}")
    click.echo(f"token {name!r} revoked")
