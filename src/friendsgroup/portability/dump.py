"""Write the registry as a dump: one consistent snapshot, streamed table by table."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, func, select

from .. import migrate
from ..timeutil import isoformat_z, utcnow
from . import PortabilityError
from .dumpfile import Body, closing_line, encode_line, header_line, section_line
from .schema import DumpedTable, dumped_tables

Progress = Callable[[str], None]
BATCH = 5_000
# Large tables report their progress every this many rows.
PROGRESS_EVERY = 50_000


def dump_chunks(
    engine: Engine, *, include_tokens: bool = False, progress: Progress | None = None
) -> Iterator[bytes]:
    """The dump of the database behind ``engine``, as chunks that end at the end of a line."""
    status = migrate.schema_status(engine)
    if not status.at_head:
        raise PortabilityError(
            f"database at {status.current or 'base'}, code expects {status.head}: "
            "run 'friendsgroup db upgrade' first"
        )
    tables, left_out = dumped_tables(include_tokens)
    with _snapshot(engine) as connection:
        counts = {
            t.name: connection.scalar(select(func.count()).select_from(t.table)) for t in tables
        }
        yield header_line(
            status.current,
            isoformat_z(utcnow()),
            [{"name": t.name, "columns": t.header(), "rows": counts[t.name]} for t in tables],
            left_out,
        )
        body = Body()
        for table in tables:
            line = section_line(table.name)
            body.update(line)
            yield line
            done = 0
            for chunk, rows in _table_chunks(connection, table):
                body.update(chunk)
                yield chunk
                done += rows
                if progress and done % PROGRESS_EVERY < rows:
                    progress(f"dump: {table.name} {done:,}/{counts[table.name]:,}")
            if done != counts[table.name]:  # cannot happen in a snapshot; never write a lie
                raise PortabilityError(f"{table.name} changed while it was dumped")
            body.rows += done
        yield closing_line(body.rows, body.hexdigest())
    if progress:
        progress(f"dump: {body.rows:,} rows of {len(tables)} tables")


def write_dump(engine: Engine, out: IO[bytes], **options) -> int:
    """Write the dump to a binary file; the number of bytes written."""
    written = 0
    for chunk in dump_chunks(engine, **options):
        out.write(chunk)
        written += len(chunk)
    out.flush()
    return written


def dump_to_path(engine: Engine, path: str, **options) -> int:
    """Write the dump to a file that takes its name only once it is whole."""
    destination = Path(path)
    partial = destination.with_name(destination.name + ".partial")
    try:
        with partial.open("wb") as out:
            written = write_dump(engine, out, **options)
            os.fsync(out.fileno())
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return written


class _snapshot:
    """A read-only connection that sees one state of the database from first read to last."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        engine = self.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        # On SQLite the transaction's first read fixes its snapshot (WAL keeps it while
        # writers go on), so the counts and the rows agree.
        self.connection = engine.connect()
        self.transaction = self.connection.begin()
        return self.connection

    def __exit__(self, *exc) -> None:
        self.transaction.rollback()
        self.connection.close()


def _table_chunks(connection: Connection, table: DumpedTable) -> Iterator[tuple[bytes, int]]:
    """The rows of a table in primary-key order, as chunks of lines and their row counts."""
    columns = [table.table.c[c.name] for c in table.columns]
    statement = select(*columns).order_by(*table.table.primary_key.columns)
    if connection.dialect.name == "postgresql":
        yield from _postgres_chunks(connection, statement)
        return
    result = connection.execute(statement.execution_options(yield_per=BATCH))
    for rows in result.partitions():
        yield _lines(rows), len(rows)


def _postgres_chunks(connection: Connection, statement) -> Iterator[tuple[bytes, int]]:
    """Rows straight from psycopg through a server-side cursor.

    psycopg already returns dates, naive UTC instants (as the models store them) and parsed
    JSON, and orjson writes them as the SQLAlchemy path does, so the bytes are the same.
    """
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    with driver.cursor(name="friendsgroup_dump") as cursor:
        cursor.itersize = BATCH
        cursor.execute(sql)
        while rows := cursor.fetchmany(BATCH):
            yield _lines(rows), len(rows)


def _lines(rows) -> bytes:
    return b"".join([encode_line(tuple(row)) for row in rows])
