"""The dump file: a header line, one section per table, rows as JSON arrays, a closing line.

```
{"format": "friendsgroup-dump", "version": 1, "revision": …, "created_at": …, "tables": […]}
{"table": "groups"}
[1, "haip-friends-group", …]                      one row, values in the header's column order
…
{"end": true, "rows": 123, "sha256": "…"}         the digest of every line between the two
```

Values are typed by the column's kind in the header: dates as ``YYYY-MM-DD``, instants as
ISO 8601 UTC with ``Z``, JSON columns as JSON, SQL NULL as ``null``.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import repeat
from operator import attrgetter
from typing import Any

import orjson

from . import PortabilityError
from .schema import DumpedColumn, DumpedTable

FORMAT = "friendsgroup-dump"
VERSION = 1
# Instants in UTC with a Z whether the driver returns them aware or naive (naive is UTC here);
# keys sorted so that the same registry gives the same bytes on either database.
ROW_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SORT_KEYS
LINE_OPTIONS = ROW_OPTIONS | orjson.OPT_APPEND_NEWLINE


def encode_line(value: Any) -> bytes:
    """One line of the file: compact JSON and a newline."""
    return orjson.dumps(value, option=LINE_OPTIONS)


def header_line(revision: str, created_at: str, tables: list[dict], left_out: list[str]) -> bytes:
    """The first line: what the file is, of which schema, and how many rows of each table."""
    return encode_line(
        {
            "format": FORMAT,
            "version": VERSION,
            "revision": revision,
            "created_at": created_at,
            "tables": tables,
            "left_out": left_out,
        }
    )


def section_line(table: str) -> bytes:
    """The line that opens a table's rows."""
    return encode_line({"table": table})


def closing_line(rows: int, digest: str) -> bytes:
    """The last line: the number of rows and the digest of the body, so a cut file shows."""
    return encode_line({"end": True, "rows": rows, "sha256": digest})


class Body:
    """The digest and row count of the lines between the header and the closing line."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.rows = 0

    def update(self, data: bytes) -> None:
        self.digest.update(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


class LineError(PortabilityError):
    """A line of the file that cannot be restored."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(f"line {number}: {message}")


def parse(number: int, line: bytes) -> Any:
    """A line's JSON value; a line cut short or edited out of JSON is refused."""
    if not line.endswith(b"\n"):
        raise LineError(number, "the line is cut short (the file is truncated)")
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        raise LineError(number, "not a JSON value") from None


def parse_many(number: int, lines: list[bytes]) -> tuple[list, LineError | None]:
    """The values of the lines (the first numbered ``number``) up to the first that does not
    parse, and that line's refusal: what ``parse`` gives line by line, mostly in one call."""
    if all(map(bytes.endswith, lines, repeat(b"\n"))):
        try:
            return list(map(orjson.loads, lines)), None
        except orjson.JSONDecodeError:
            pass
    values = []
    for n, line in enumerate(lines, number):
        try:
            values.append(parse(n, line))
        except LineError as error:
            return values, error
    return values, None


def check_header(value: Any) -> dict:
    """The header's fields, or the reason the file is not a dump this code reads."""
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise PortabilityError("not a friendsgroup dump (its first line names no such format)")
    if value.get("version") != VERSION:
        raise PortabilityError(
            f"dump format version {value.get('version')!r} is not supported "
            f"(this friendsgroup reads version {VERSION})"
        )
    for field, kind in (("revision", str), ("tables", list), ("left_out", list)):
        if not isinstance(value.get(field), kind):
            raise PortabilityError(f"line 1: the header's {field!r} is missing or malformed")
    for entry in value["tables"]:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("columns"), list)
            and type(entry.get("rows")) is int
        ):
            raise PortabilityError("line 1: a table of the header is malformed")
    return value


# --- values -----------------------------------------------------------------------------------

Decoder = Callable[[Any], Any]


def _integer(value):
    if type(value) is int:
        return value
    raise ValueError("is not an integer")


def _number(value):
    if type(value) in (int, float):
        return float(value)
    raise ValueError("is not a number")


def _boolean(value):
    if type(value) is bool:
        return value
    raise ValueError("is not true or false")


def _text(length: int | None) -> Decoder:
    def decode(value):
        if type(value) is not str:
            raise ValueError("is not a string")
        if length is not None and len(value) > length:
            raise ValueError(f"is longer than {length} characters")
        return value

    return decode


def _date(value):
    if type(value) is str and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("is not a date (YYYY-MM-DD)")


def _instant(value):
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    raise ValueError("is not an ISO 8601 instant with its offset")


def _json(value):
    if value is None:  # a nullable column's null never reaches here
        raise ValueError("is null")
    return value


_DECODERS: dict[str, Decoder] = {
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "instant": _instant,
    "json": _json,
}


def decoder(column: DumpedColumn) -> Decoder:
    """A function from a dumped value to the value written, raising ValueError if it is not."""
    decode = _text(column.length) if column.kind == "text" else _DECODERS[column.kind]
    if column.nullable:
        inner = decode

        def decode(value):
            return None if value is None else inner(value)

    return decode


def row_decoder(table: DumpedTable) -> Callable[[int, Any], list]:
    """A function from a row line's value to the row's values, naming the column at fault."""
    decoders = [(column.name, decoder(column)) for column in table.columns]
    width = len(decoders)

    def decode(number: int, value: Any) -> list:
        if type(value) is not list or len(value) != width:
            raise LineError(number, f"not a row of {table.name} ({width} values)")
        out = []
        for (name, decode_one), cell in zip(decoders, value, strict=True):
            try:
                out.append(decode_one(cell))
            except ValueError as error:
                shown = "null" if cell is None else repr(cell)[:60]
                message = "must not be null" if cell is None else f"{shown} {error}"
                raise LineError(number, f"{table.name}.{name}: {message}") from None
        return out

    return decode


# --- many rows at once -----------------------------------------------------------------------

ColumnDecoder = Callable[[Sequence], Sequence]


def columns_decoder(table: DumpedTable) -> Callable[[int, list], list[Sequence]]:
    """A function from the values of consecutive row lines (the first one's number) to their
    decoded columns, each a sequence of the rows' values.

    Each column is checked in one pass over its cells, mostly in C; a batch with any cell that
    pass does not take goes through ``row_decoder``, which names the first bad cell (or, for
    the rare value the pass leaves to it, decodes it): the same values, the same refusals.
    """
    one_by_one = row_decoder(table)
    columns = [_column_decoder(column) for column in table.columns]
    width = len(columns)

    def decode(number: int, values: list) -> list[Sequence]:
        try:
            if set(map(len, values)) != {width}:
                raise ValueError("not all rows of the table")
            return [
                check(column)
                for check, column in zip(columns, zip(*values, strict=True), strict=True)
            ]
        except (ValueError, TypeError):
            rows = [one_by_one(n, value) for n, value in enumerate(values, number)]
            return list(zip(*rows, strict=True))

    return decode


def _column_decoder(column: DumpedColumn) -> ColumnDecoder:
    """A column's cells decoded at once, as ``decoder`` decodes each; ValueError if any is not."""
    allowed = {type(None)} if column.nullable else set()
    if column.kind in _PLAIN_TYPES:
        allowed.add(_PLAIN_TYPES[column.kind])
        length = column.length if column.kind == "text" else None

        def decode(cells):
            if not set(map(type, cells)) <= allowed:
                raise ValueError("a cell of another type")
            # filter(None, …): the nulls go, and an empty text is never too long.
            if length is not None and max(map(len, filter(None, cells)), default=0) > length:
                raise ValueError("a text too long")
            return cells

        return decode
    if column.kind in _PARSED:
        parse, lengths, check = _PARSED[column.kind]
        allowed.add(str)

        def decode(cells):
            if not set(map(type, cells)) <= allowed:
                raise ValueError("a cell of another type")
            if lengths is not None and not set(map(len, filter(None, cells))) <= lengths:
                raise ValueError("a cell of another length")
            values = (
                [None if cell is None else parse(cell) for cell in cells]
                if column.nullable
                else list(map(parse, cells))
            )
            if check is not None:
                check(filter(None, values))
            return values

        return decode
    one = decoder(column)
    return lambda cells: list(map(one, cells))


def _in_utc(instants: Iterable[datetime]) -> None:
    """Refuse a naive instant, and one with another offset (the cell-by-cell decoder moves
    those into UTC); the instants left are those ``_instant`` gives."""
    if not set(map(attrgetter("tzinfo"), instants)) <= {UTC}:
        raise ValueError("an instant not in UTC")


# Kinds a type check decides, and kinds parsed from text of known lengths, then checked.
_PLAIN_TYPES = {"integer": int, "boolean": bool, "text": str}
_PARSED = {
    "date": (date.fromisoformat, {10}, None),
    "instant": (datetime.fromisoformat, None, _in_utc),
}


def lines_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines from chunks that each end at the end of a line (a dump being written)."""
    for chunk in chunks:
        yield from chunk.splitlines(keepends=True)
