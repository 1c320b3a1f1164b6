"""How restored rows reach the database: COPY on PostgreSQL, batched INSERTs elsewhere."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from . import PortabilityError
from .schema import DumpedTable

BATCH = 5_000


def refused(table: str, error: Exception) -> PortabilityError:
    """The database's own refusal of a row (a key, a check), as a one-line reason."""
    original = getattr(error, "orig", error)
    first = str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    return PortabilityError(f"{table}: the database refused a row: {first}")


class InsertWriter:
    """Multi-row INSERTs through SQLAlchemy, which stores each type as the app does."""

    def __init__(self, connection: Connection, table: DumpedTable) -> None:
        self.connection = connection
        self.table = table
        self.names = [column.name for column in table.columns]
        self.rows: list[dict] = []

    def add(self, columns: list[Sequence]) -> None:
        """Decoded columns of consecutive rows, written in batches."""
        names = self.names
        self.rows.extend(dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True))
        if len(self.rows) >= BATCH:
            self._write()

    def _write(self) -> None:
        if self.rows:
            try:
                self.connection.execute(insert(self.table.table), self.rows)
            except DBAPIError as error:
                raise refused(self.table.name, error) from None
            self.rows = []

    def close(self) -> None:
        self._write()


def _for_copy(kind: str, values: Sequence, binary: bool) -> Sequence:
    """A column's decoded values as COPY takes them: JSON wrapped; in a text COPY, instants
    naive (in UTC, as the models store them; decoded instants are in UTC already); the rest,
    and a binary COPY's instants (written as ``timestamptz``), as they are."""
    if kind == "instant" and not binary:
        return [None if value is None else value.replace(tzinfo=None) for value in values]
    if kind == "json":
        return [None if value is None else Json(value) for value in values]
    return values


# The column types binary COPY writes each kind's decoded values to (by psycopg's dumper of
# that type); a table with any other column type is copied as text.
_BINARY_TYPES = {
    "integer": {"int2", "int4", "int8"},
    "number": {"float4", "float8"},
    "text": {"text", "varchar"},
    "boolean": {"bool"},
    "date": {"date"},
    "instant": {"timestamp"},
    "json": {"json"},
}
# The integer types' bounds: binary COPY would wrap a larger value round, not refuse it.
_INTEGER_BOUNDS = {"int2": 2**15, "int4": 2**31, "int8": 2**63}

_COLUMN_TYPES = text(
    "SELECT attname, atttypid FROM pg_attribute "
    "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"
)


class CopyWriter:
    """One ``COPY … FROM STDIN`` per table, in the restore's transaction: binary, each value
    in its column's own type, where every column has a type of ``_BINARY_TYPES`` (then the
    server parses no text, nor psycopg writes any)."""

    def __init__(self, connection: Connection, table: DumpedTable) -> None:
        self.table = table
        driver = connection.connection.driver_connection
        oids = dict(connection.execute(_COLUMN_TYPES, {"table": table.name}).all())
        types = [driver.adapters.types.get(oids[column.name]) for column in table.columns]
        binary = all(
            kind is not None and kind.name in _BINARY_TYPES[column.kind]
            for kind, column in zip(types, table.columns, strict=True)
        )
        self.bounds = [
            (position, kind.name, _INTEGER_BOUNDS[kind.name])
            for position, kind in enumerate(types)
            if kind is not None and kind.name in _INTEGER_BOUNDS
        ]
        self.cursor = driver.cursor()
        preparer = connection.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(column.name) for column in table.columns)
        self.context = self.cursor.copy(
            f"COPY {preparer.format_table(table.table)} ({columns}) FROM STDIN"
            + (" (FORMAT BINARY)" if binary else "")
        )
        self.copy = self.context.__enter__()
        self.binary = binary
        self.kinds = [column.kind for column in table.columns]
        if binary:
            # An instant is dumped as timestamptz, straight from its aware UTC value: binary
            # timestamp and timestamptz are the same eight bytes (microseconds since
            # 2000-01-01, in UTC), so the column gets the value a naive copy would give it.
            tz = driver.adapters.types["timestamptz"].oid
            self.copy.set_types(
                [
                    tz if column.kind == "instant" else kind.oid
                    for kind, column in zip(types, self.table.columns, strict=True)
                ]
            )

    def add(self, columns: list[Sequence]) -> None:
        """Decoded columns of consecutive rows, written row by row."""
        self._check_bounds(columns)
        cells = [
            _for_copy(kind, values, self.binary)
            for kind, values in zip(self.kinds, columns, strict=True)
        ]
        write_row = self.copy.write_row
        try:
            for row in zip(*cells, strict=True):
                write_row(row)
        except psycopg.Error as error:  # the server may refuse a row before COPY ends
            raise refused(self.table.name, error) from None

    def _check_bounds(self, columns: list[Sequence]) -> None:
        """Refuse an integer its column's type cannot hold, as the server would refuse it."""
        for position, name, bound in self.bounds:
            # filter(None, …): nulls and zeros are in range.
            present = list(filter(None, columns[position]))
            if present and (min(present) < -bound or max(present) >= bound):
                column = self.table.columns[position].name
                problem = ValueError(f"{column} out of range for type {name}")
                raise refused(self.table.name, problem)

    def close(self) -> None:
        try:
            self.context.__exit__(None, None, None)
        except Exception as error:  # the server checks keys and constraints as COPY ends
            raise refused(self.table.name, error) from None
        finally:
            self.cursor.close()

    def abort(self) -> None:
        error = PortabilityError("restore abandoned")
        try:
            self.context.__exit__(type(error), error, None)
        except Exception:  # the transaction is rolled back anyway
            pass
        self.cursor.close()


def writer_for(connection: Connection, table: DumpedTable):
    """The fastest writer the database offers."""
    if connection.dialect.name == "postgresql":
        return CopyWriter(connection, table)
    return InsertWriter(connection, table)


def advance_sequences(connection: Connection, tables: list[DumpedTable]) -> None:
    """On PostgreSQL, set every column's sequence past the restored values: new ids are fresh."""
    if connection.dialect.name != "postgresql":
        return  # SQLite gives a new row the largest id + 1 by itself
    for table in tables:
        for column in table.table.columns:
            sequence = connection.scalar(
                select(func.pg_get_serial_sequence(table.name, column.name))
            )
            if sequence is None:
                continue
            top = connection.scalar(select(func.max(table.table.c[column.name])))
            # setval(…, n, false): the next value is n itself.
            connection.execute(
                text("SELECT setval(:sequence, :next, false)"),
                {"sequence": sequence, "next": (top or 0) + 1},
            )


# The restored tables' foreign keys and the indexes no constraint stands on, with the
# statements that drop them and make them again (regclass names come quoted as needed).
_KEYS_AND_INDEXES = text(
    """
    SELECT c.conrelid::regclass::text,
           format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                  pg_get_constraintdef(c.oid))
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid = ANY(CAST(:tables AS regclass[]))
    UNION ALL
    SELECT i.indrelid::regclass::text,
           format('DROP INDEX %s', i.indexrelid::regclass),
           pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))
      AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    """
)


@contextmanager
def keys_after_rows(connection: Connection, tables: list[DumpedTable]) -> Iterator[None]:
    """On PostgreSQL, load the rows with the tables' foreign keys and secondary indexes set
    aside, and make them again after the last row.

    Kept up row by row they cost COPY most of its time; built once (a sort per index, a join
    per key) they cost a fraction of it, and in the same transaction every key and every
    uniqueness is still checked before anything is committed. Primary keys stay throughout.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    names = [table.name for table in tables]
    found = connection.execute(_KEYS_AND_INDEXES, {"tables": names}).all()
    for _, drop, _ in found:
        connection.exec_driver_sql(drop)
    yield  # on an error the transaction's rollback brings every one of them back
    for table, _, make in reversed(found):
        try:
            connection.exec_driver_sql(make)
        except DBAPIError as error:  # a duplicate in a unique index, a key to nothing
            raise refused(table, error) from None
