"""Which tables and columns a dump holds, read from the models' metadata, and their kinds."""

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    TypeDecorator,
)

from ..models import Base, UTCDateTime
from . import PortabilityError

# Never dumped: replay state, and webhook subscriptions (their signing secrets are secrets,
# kept in clear because they sign) with their deliveries: operations, not facts.
NOT_FACTS = frozenset({"idempotency_keys", "webhooks", "deliveries", "delivery_attempts"})
# Token hashes identify callers; they leave the database only when asked for.
TOKENS = frozenset({"api_tokens"})


@dataclass(frozen=True)
class DumpedColumn:
    """A column and the kind its values take in a dump line."""

    name: str
    kind: str  # integer, number, text, boolean, date, instant, json
    nullable: bool
    length: int | None


@dataclass(frozen=True)
class DumpedTable:
    """A table of the dump: its columns in the models' order, its primary key."""

    table: Table
    columns: tuple[DumpedColumn, ...]

    @property
    def name(self) -> str:
        return self.table.name

    def header(self) -> list[list[str]]:
        """The table's columns as the header states them: [name, kind], in the rows' order."""
        return [[column.name, column.kind] for column in self.columns]


def column_kind(column: Column) -> str:
    """How a column's values are written in a dump; a type without a rule is refused."""
    kind = column.type
    if isinstance(kind, UTCDateTime) or (isinstance(kind, DateTime) and kind.timezone):
        return "instant"
    if isinstance(kind, TypeDecorator):
        kind = kind.impl
    # A naive timestamp has no agreed zone: it falls through and is refused, never guessed.
    for base, name in (
        (Boolean, "boolean"),
        (Integer, "integer"),
        (Float, "number"),
        (String, "text"),  # Text and Enum are Strings
        (Date, "date"),
        (JSON, "json"),
    ):
        if isinstance(kind, base):
            return name
    raise PortabilityError(
        f"column {column.table.name}.{column.name} has type {column.type!r}, "
        "which a dump has no rule for"
    )


def dumped_table(table: Table) -> DumpedTable:
    """A table of the models as the dump sees it."""
    columns = tuple(
        DumpedColumn(
            column.name,
            column_kind(column),
            bool(column.nullable),
            getattr(column.type, "length", None),
        )
        for column in table.columns
    )
    return DumpedTable(table, columns)


def dumped_tables(include_tokens: bool = False) -> tuple[list[DumpedTable], list[str]]:
    """The tables a dump holds, in dependency order, and the names of those it leaves out.

    A table that refers to a left-out table is left out too: its rows could not be restored.
    """
    left_out: list[str] = []
    kept: list[DumpedTable] = []
    excluded = set(NOT_FACTS) | (set() if include_tokens else set(TOKENS))
    for table in Base.metadata.sorted_tables:
        refers_to = {key.column.table.name for key in table.foreign_keys}
        if table.name in excluded or refers_to & set(left_out):
            left_out.append(table.name)
            continue
        kept.append(dumped_table(table))
    return kept, left_out


def all_tables() -> list[Table]:
    """Every table of the models, in dependency order."""
    return list(Base.metadata.sorted_tables)
