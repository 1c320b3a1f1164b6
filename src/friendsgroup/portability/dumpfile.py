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
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
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


def decoder(column: DumpedColumn, adapt: Callable[[str, Any], Any] | None = None) -> Decoder:
    """A function from a dumped value to the value written, raising ValueError if it is not.

    ``adapt`` turns a decoded value of a kind into what the writer wants (e.g. for COPY).
    """
    decode = _text(column.length) if column.kind == "text" else _DECODERS[column.kind]
    if adapt is not None:
        plain, kind = decode, column.kind

        def decode(value):
            return adapt(kind, plain(value))

    if column.nullable:
        inner = decode

        def decode(value):
            return None if value is None else inner(value)

    return decode


def row_decoder(table: DumpedTable, adapt=None) -> Callable[[int, Any], list]:
    """A function from a row line's value to the row's values, naming the column at fault."""
    decoders = [(column.name, decoder(column, adapt)) for column in table.columns]
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


def lines_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines from chunks that each end at the end of a line (a dump being written)."""
    for chunk in chunks:
        yield from chunk.splitlines(keepends=True)
