"""``friendsgroup dump``, ``restore``, ``db copy`` and ``backup``: the registry as one file."""

import sys

import click
from sqlalchemy.exc import OperationalError

from .. import migrate
from ..db import get_db, make_engine
from ..portability import PortabilityError
from ..portability.backup import backup
from ..portability.dump import dump_chunks, dump_to_path, write_dump
from ..portability.dumpfile import lines_of
from ..portability.restore import restore_file, restore_lines
from . import app, fail, main
from .database import db


def _progress(message: str) -> None:
    click.echo(message, err=True)


@main.command("dump")
@click.argument("file", default="-")
@click.option("--include-tokens", is_flag=True, help="Also dump the tokens' hashes.")
def dump_command(file: str, include_tokens: bool) -> None:
    """Write the whole registry to FILE (``-``: stdout) as a versioned JSON-lines dump."""
    engine, options = get_db(app()).engine, {"include_tokens": include_tokens}
    try:
        if file == "-":
            write_dump(engine, sys.stdout.buffer, progress=_progress, **options)
        else:
            dump_to_path(engine, file, progress=_progress, **options)
    except (PortabilityError, OSError) as error:
        fail(str(error))


@main.command("restore")
@click.argument("file")
def restore_command(file: str) -> None:
    """Load a dump or a backup FILE into this migrated, empty database; all or nothing."""
    try:
        restore_file(get_db(app()).engine, file, progress=_progress)
    except (PortabilityError, OSError) as error:
        fail(str(error))


@db.command("copy")
@click.option("--to", "url", required=True, help="The migrated, empty database to copy into.")
@click.option("--include-tokens", is_flag=True, help="Also copy the tokens' hashes.")
def db_copy(url: str, include_tokens: bool) -> None:
    """Copy the whole registry into the database at URL (a dump and a restore in one step)."""
    target = make_engine(url)
    try:
        status = migrate.schema_status(target)
        if not status.at_head:
            fail(
                f"the target is at {status.current or 'base'}, code expects {status.head}: "
                "run 'DATABASE_URL=URL friendsgroup db upgrade' first"
            )
        chunks = dump_chunks(get_db(app()).engine, include_tokens=include_tokens)
        restore_lines(target, lines_of(chunks), progress=_progress)
    except (PortabilityError, OperationalError) as error:
        fail(str(error).strip().splitlines()[0])
    finally:
        target.dispose()


@main.command("backup")
@click.argument("file")
def backup_command(file: str) -> None:
    """Write a consistent backup of the live registry to FILE (``restore`` reads it)."""
    try:
        backup(get_db(app()).engine, file, progress=_progress)
    except (PortabilityError, OSError) as error:
        fail(str(error))
