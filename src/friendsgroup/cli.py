"""The ``friendsgroup`` command: thin click commands over the functions the API uses."""

import sys
from datetime import date, datetime

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo
from sqlalchemy import select

from . import migrate
from .db import get_db

DATE = click.DateTime(formats=["%Y-%m-%d"])


def app() -> Flask:
    """The app of ``flask --app`` (or a test runner), else a new one from the environment."""
    if has_app_context():
        return current_app._get_current_object()
    context = click.get_current_context()
    info = context.find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    root = context.find_root()
    if "friendsgroup.app" not in root.meta:
        from . import create_app

        created = root.meta["friendsgroup.app"] = create_app()
        # A one-shot command closes its connections rather than leave them to the collector.
        root.call_on_close(lambda: get_db(created).dispose())
    return root.meta["friendsgroup.app"]


def fail(message: str) -> None:
    """Exit 1 with a one-line reason on stderr."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """friendsgroup: a registry of group memberships and commitments, with history."""


# --- db ---------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Migrate and inspect the database (DATABASE_URL)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema (to head by default)."""
    url = app().config["DATABASE_URL"]
    migrate.upgrade(url, revision)
    click.echo(f"database at {_current(url) or 'base'}")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (``base`` for empty)."""
    url = app().config["DATABASE_URL"]
    migrate.downgrade(url, revision)
    click.echo(f"database at {_current(url) or 'base'}")


def _current(url: str) -> str | None:
    """The revision the database is at after a migration."""
    return migrate.schema_status(get_db(app()).engine).current


@db.command()
def current() -> None:
    """Print the database's revision."""
    status = migrate.schema_status(get_db(app()).engine)
    state = "head" if status.at_head else f"head is {status.head}"
    click.echo(f"{status.current or 'base'} ({state})")


@db.command()
def history() -> None:
    """List the migrations, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.migrations_path()))
    for revision in reversed(list(script.walk_revisions())):
        click.echo(f"{revision.revision}  {revision.doc}")


@db.command()
def check() -> None:
    """Exit 1 unless the database is at head and the models match the migrations."""
    engine = get_db(app()).engine
    status = migrate.schema_status(engine)
    if not status.at_head:
        fail(
            f"database at {status.current or 'base'}, head is {status.head}: "
            "run 'friendsgroup db upgrade'"
        )
    differences = migrate.model_differences(engine)
    if differences:
        fail(f"models and migrations differ: {differences[0]!r} (and {len(differences) - 1} more)")
    click.echo(f"ok: at {status.head}, models and migrations agree")


# --- token ------------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """Make, list and revoke API tokens."""


@token.command("create")
@click.argument("name")
def token_create(name: str) -> None:
    """Create a token; its secret is printed once and never stored."""
    from sqlalchemy.exc import IntegrityError

    from .auth import create_token

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
    from .models import ApiToken

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
    from .auth import revoke_token

    with get_db(app()).transaction() as session:
        if not revoke_token(session, name):
            fail(f"no active token named {name!r}")
    click.echo(f"token {name!r} revoked")


# --- serve ------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn; refuses a database that is not at head."""
    from .server import run

    status = migrate.schema_status(get_db(app()).engine)
    if not status.at_head:
        fail(
            f"database at {status.current or 'base'}, code expects {status.head}: "
            "run 'friendsgroup db upgrade' first"
        )
    get_db(app()).dispose()
    run(host, port, workers)


# --- report -----------------------------------------------------------------------------------


@main.group()
def report() -> None:
    """Members and counts of a group, as in the API's reports."""


FORMAT = click.Choice(["table", "json", "csv"])


@report.command("members")
@click.argument("group")
@click.option("--as-of", type=DATE, help="Date of the report (default today).")
@click.option("--known-at", help="What the registry knew at this instant (ISO 8601).")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
def report_members(group: str, as_of: datetime | None, known_at: str | None, fmt: str) -> None:
    """Members of GROUP on a date."""
    from .reporting import members_command

    members_command(app(), group, _date(as_of), _instant(known_at), fmt)


@report.command("counts")
@click.argument("group")
@click.option("--from", "start", type=DATE, help="First day (default the group's start).")
@click.option("--to", "end", type=DATE, help="Last day (default today).")
@click.option(
    "--interval",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
)
@click.option("--known-at", help="What the registry knew at this instant (ISO 8601).")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
def report_counts(group, start, end, interval, known_at, fmt) -> None:
    """Counts of GROUP over time."""
    from .reporting import counts_command

    counts_command(app(), group, _date(start), _date(end), interval, _instant(known_at), fmt)


def _date(value: datetime | None) -> date | None:
    return value.date() if value else None


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    from marshmallow import ValidationError

    from .schemas import Timestamp

    try:
        return Timestamp().deserialize(text)
    except ValidationError:
        raise click.BadParameter("not an ISO 8601 instant", param_hint="--known-at") from None


def register_flask_commands(flask_app: Flask) -> None:
    """The same commands under ``flask --app friendsgroup``."""
    for command in main.commands.values():
        flask_app.cli.add_command(command)


# --- seed and import --------------------------------------------------------------------------


def _require_head() -> None:
    """Exit 1 unless the database is at the latest migration (nothing to write into otherwise)."""
    status = migrate.schema_status(get_db(app()).engine)
    if not status.at_head:
        fail(
            f"database at {status.current or 'base'}, code expects {status.head}: "
            "run 'friendsgroup db upgrade' first"
        )


@main.command("seed")
@click.option(
    "--path",
    default="seeds",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Directory of the seed files.",
)
def seed_command(path: str) -> None:
    """Load the HAIP reference data; running it twice changes nothing."""
    from pathlib import Path

    from .seeding import seed_command as run

    _require_head()
    run(app(), Path(path))


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every line and print what would be done.")
def import_command(file: str, dry_run: bool) -> None:
    """Record the events of a CSV or JSON lines FILE, checked like the API; all or nothing."""
    from pathlib import Path

    from .importer import import_command as run

    _require_head()
    run(app(), Path(file), dry_run)
