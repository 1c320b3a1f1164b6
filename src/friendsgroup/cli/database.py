"""``friendsgroup db``: migrate and inspect the database."""

import click

from .. import migrate
from ..db import get_db
from . import app, fail, main


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
