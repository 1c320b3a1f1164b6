"""A consistent copy of a registry that is serving: SQLite's online backup, else a dump."""

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, make_url

from . import PortabilityError
from .dump import dump_to_path

Progress = Callable[[str], None]


def backup(engine: Engine, target: str, progress: Progress | None = None) -> str:
    """Write a backup of the database to ``target``; what kind of backup it is."""
    destination = Path(target)
    partial = destination.with_name(destination.name + ".partial")
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_backup(engine, partial)
            kind = "SQLite database"
        else:
            dump_to_path(engine, str(partial), progress=progress)
            kind = "dump"
        # Only a finished backup takes the name: a failed one never passes for a good one.
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    if progress:
        progress(f"backup: {kind} written to {destination} ({destination.stat().st_size:,} bytes)")
    return kind


def _sqlite_backup(engine: Engine, partial: Path) -> None:
    """SQLite's online backup API: one snapshot, the write-ahead log's commits included."""
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise PortabilityError("an in-memory database has nothing to back up")
    if not Path(database).exists():
        raise PortabilityError(f"no SQLite database at {database}")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        # All pages in one step: readers never block writers under WAL, and a backup done in
        # steps would start over at every write the service commits meanwhile.
        source.backup(copy)
        # The copy stands alone: a rollback journal, not a write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.commit()
    finally:
        copy.close()
        source.close()
