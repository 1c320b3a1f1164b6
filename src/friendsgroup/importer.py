"""``friendsgroup import``: events from CSV or JSON lines, checked like the API, all or nothing.

Each line is loaded by the API's own schemas and checked by the rules of ``history``; the
file is read once, as a stream, and nothing is written unless every line is valid.
"""

import csv
import gc
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import psycopg
from flask import Flask
from marshmallow import RAISE, Schema, ValidationError, missing
from marshmallow import fields as ma_fields
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .bulk import BulkProblems, LineProblem, NewEvent, record_events_bulk
from .db import get_db
from .errors import flatten_errors
from .models import EVENT_TYPES, GROUP_EVENT_TYPES, INSTRUMENT_EVENT_TYPES, Group, Instrument
from .schemas import CommitmentCreateSchema, EventCreateSchema, ReportCreateSchema

CSV_COLUMNS = (
    "group",
    "instrument",
    "type",
    "participant",
    "effective_on",
    "earliest_on",
    "provisions",
    "note",
    "source_url",
    "source_title",
    "source_published_on",
    "source_reliability",
)
# Consecutive rows equal in these columns are one event with one source a row.
EVENT_COLUMNS = CSV_COLUMNS[:8]
SOURCE_COLUMNS = {
    "source_url": "url",
    "source_title": "title",
    "source_published_on": "published_on",
    "source_reliability": "reliability",
}
REQUIRED_COLUMNS = ("type", "participant", "effective_on")
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TYPES_OF = {"group": GROUP_EVENT_TYPES, "instrument": INSTRUMENT_EVENT_TYPES}
# The schema of each event type, as the API's routes use them.
SCHEMA_OF = {
    "accession": EventCreateSchema,
    "withdrawal": EventCreateSchema,
    "commitment": CommitmentCreateSchema,
    "report": ReportCreateSchema,
}
PROGRESS_EVERY = 10_000
READ_BUFFER = 1 << 20
MEMO_LIMIT = 100_000

Progress = Callable[[int], None]


class FileProblem(Exception):
    """A file that cannot be read at all (not UTF-8, no header)."""


# --- loading bodies with the API's schemas ------------------------------------------------------


class BodyLoader:
    """``schema.load`` for many bodies, field by field with the schema's own fields.

    A value seen before is not loaded again. Whenever anything fails, the body goes to
    ``schema.load`` itself, so that the errors are exactly the API's.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        fields = schema.load_fields
        self.names = frozenset(fields)
        # name → (field, loader of its nested items or None, values loaded before)
        self.fields = {
            name: (f, BodyLoader(f.inner.schema) if _is_list_of_nested(f) else None, {})
            for name, f in fields.items()
        }
        # What an absent field loads to (its default), and the fields that must be present.
        self.defaults: dict = {}
        required = set()
        for name, f in fields.items():
            try:
                value = f.deserialize(missing, name, {})
            except ValidationError:
                required.add(name)
                continue
            if value is not missing:
                self.defaults[name] = value
        self.required = frozenset(required)
        self.fast = _loads_field_by_field(schema)

    def load(self, body: dict) -> dict:
        """The loaded body, or the schema's ValidationError."""
        if self.fast:
            try:
                return self._load_fields(body)
            except ValidationError:
                pass
        return self.schema.load(body)

    def _load_fields(self, body: dict) -> dict:
        if not self.names.issuperset(body) or not self.required.issubset(body):
            raise ValidationError("unknown or missing field")
        result = self.defaults.copy()
        fields = self.fields
        for name, raw in body.items():
            f, nested, memo = fields[name]
            if nested is not None and raw is not None:
                value = _load_list(f, nested, raw)
            else:
                key = raw if raw is None or type(raw) is str else _memo_key(raw)
                value = missing if key is None else memo.get(key, missing)
                if value is missing:
                    value = f.deserialize(raw, name, body)
                    if key is not None:
                        if len(memo) >= MEMO_LIMIT:
                            memo.clear()
                        memo[key] = value
            result[name] = value
        return result


def _load_list(f: ma_fields.List, nested: BodyLoader, raw) -> list:
    """A list of nested objects, item by item, then the list's own validators."""
    if type(raw) is not list or any(type(each) is not dict for each in raw):
        raise ValidationError("not a list of objects")
    value = [nested._load_fields(each) for each in raw]
    for validator in f.validators:
        validator(value)
    return value


def _memo_key(raw):
    """The key a loaded value is remembered under, or None to load it every time.

    Only text, null, absence and lists of int: 1, 1.0 and True are equal keys but not equal
    inputs. So an absent ``sources`` loads to one shared empty list: loaded bodies are read-only.
    """
    if raw is None or type(raw) is str or raw is missing:
        return raw
    if type(raw) is list and all(type(each) is int for each in raw):
        return tuple(raw)
    return None


def _is_list_of_nested(f: ma_fields.Field) -> bool:
    return isinstance(f, ma_fields.List) and isinstance(f.inner, ma_fields.Nested)


def _loads_field_by_field(schema: Schema) -> bool:
    """True when loading field by field is what ``schema.load`` does: no hooks, plain keys."""
    return (
        not any(schema._hooks.values())
        and schema.unknown == RAISE
        and not schema.partial
        and all(f.data_key is None and f.attribute is None for f in schema.load_fields.values())
        and all(
            _loads_field_by_field(f.inner.schema)
            and not f.inner.many
            and f.inner.only is None
            and not f.inner.exclude
            and f.inner.unknown is None
            for f in schema.load_fields.values()
            if _is_list_of_nested(f)
        )
    )


# --- records: one event as read from a file -----------------------------------------------------


@dataclass(slots=True)
class Record:
    """One event as the file gives it, before validation."""

    line: int
    group: object
    instrument: object
    type: object
    body: dict
    source_lines: list[int] = field(default_factory=list)
    csv: bool = False

    def where(self, name: str) -> tuple[int, str]:
        """The line and field to name for an error at ``name`` (``sources.1.url`` …)."""
        if not self.csv:
            return self.line, name
        parts = name.split(".")
        if parts[0] == "sources" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(self.source_lines):
                return self.source_lines[index], f"source_{parts[2]}"
        return self.line, parts[0]


class EventReader:
    """Turns the records of a file into events to record, or the problems of their lines."""

    def __init__(self, session: Session, progress: Progress | None = None) -> None:
        # Every target is looked up now: once the writer streams, the session runs nothing else.
        self.targets = {("group", g.slug): g for g in session.scalars(select(Group)).unique()} | {
            ("instrument", i.slug): i for i in session.scalars(select(Instrument)).unique()
        }
        self.loaders = {cls: BodyLoader(cls()) for cls in set(SCHEMA_OF.values())}
        # (group slug, instrument slug) of a line → its target and the types it takes
        self.kinds = {
            (slug, None) if kind == "group" else (None, slug): (target, TYPES_OF[kind])
            for (kind, slug), target in self.targets.items()
        }
        self.progress = progress

    def read(self, path: Path) -> Iterator[NewEvent | LineProblem]:
        """Every event of the file, or the problems of its lines, in file order."""
        with path.open("rb", buffering=READ_BUFFER) as handle:
            lines = _text_lines(handle)
            if file_format(path) == "csv":
                records = csv_records(lines, self.progress)
            else:
                yield from self._read_json(lines)
                return
            for record in records:
                if isinstance(record, LineProblem):
                    yield record
                else:
                    yield from self.event(record)

    def _read_json(self, lines: Iterable[str]) -> Iterator[NewEvent | LineProblem]:
        """``json_records`` then ``event``, with a short way for lines that are in order."""
        progress, kinds, loaders = self.progress, self.kinds, self.loaders
        for number, text in enumerate(lines, 1):
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
            try:
                body = _json_loads(text)
            except (ValueError, RecursionError):
                if text and not text.isspace():
                    yield LineProblem(number, "body", "not valid JSON")
                continue
            if not isinstance(body, dict):
                yield LineProblem(number, "body", "must be a JSON object")
                continue
            group = body.pop("group", None)
            instrument = body.pop("instrument", None)
            event_type = body.pop("type", None)
            # A target and a type of it, and a body the loader takes: the event, as ``event``
            # would find it; anything else goes the long way, for its messages.
            one = (type(group) is str and instrument is None) or (
                group is None and type(instrument) is str
            )
            found = kinds.get((group, instrument)) if one else None
            if found is not None and event_type in found[1]:
                try:
                    data = loaders[SCHEMA_OF[event_type]].load(body)
                except ValidationError:
                    pass
                else:
                    yield NewEvent(found[0], event_type, data, number)
                    continue
            yield from self.event(Record(number, group, instrument, event_type, body))

    def event(self, record: Record) -> list[NewEvent | LineProblem]:
        """The record as an event, or its problems: target, type, then the body's fields."""
        target, problems = self._target(record)
        event_type = record.type if isinstance(record.type, str) else None
        allowed = TYPES_OF.get(_kind(target), EVENT_TYPES)
        if event_type not in allowed:
            message = f"must be one of {', '.join(allowed)}"
            if target is not None:
                message += f" for {'a group' if _kind(target) == 'group' else 'an instrument'}"
            problems.append(LineProblem(record.line, "type", message))
        loader = self.loaders[SCHEMA_OF.get(event_type, EventCreateSchema)]
        try:
            data = loader.load(record.body)
        except ValidationError as error:
            for name, messages in flatten_errors(error.messages).items():
                line, where = record.where(name)
                problems.extend(LineProblem(line, where, message) for message in messages)
        if problems:
            return problems
        return [NewEvent(target, event_type, data, record.line)]

    def _target(self, record: Record) -> tuple[Group | Instrument | None, list[LineProblem]]:
        if record.group is not None and record.instrument is not None:
            return None, [LineProblem(record.line, "instrument", "give a group or an instrument")]
        if record.group is None and record.instrument is None:
            return None, [LineProblem(record.line, "group", "give a group or an instrument")]
        kind, slug = (
            ("group", record.group)
            if record.group is not None
            else ("instrument", record.instrument)
        )
        if not isinstance(slug, str):
            return None, [LineProblem(record.line, kind, "Not a valid string.")]
        target = self.targets.get((kind, slug))
        if target is None:
            return None, [LineProblem(record.line, kind, f"no {kind} {slug!r}")]
        return target, []


def _kind(target: Group | Instrument | None) -> str | None:
    if target is None:
        return None
    return "group" if isinstance(target, Group) else "instrument"


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl``: by the file's extension, else by its first character."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def _text_lines(handle: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 stops the import, naming it."""
    for number, raw in enumerate(handle, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileProblem(f"line {number}: the file is not UTF-8 text") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _counting(items: Iterable, progress: Progress | None) -> Iterator:
    """The items, telling ``progress`` how many were read every PROGRESS_EVERY of them."""
    for count, item in enumerate(items, 1):
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
        yield item


_JSON_DECODER = json.JSONDecoder()
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_loads(text: str):
    """``json.loads(text)`` for text, by the same decoder without its layers of calls."""
    try:
        value, end = _JSON_DECODER.scan_once(text, _JSON_SPACE.match(text).end())
    except StopIteration:
        raise ValueError("not valid JSON") from None
    if _JSON_SPACE.match(text, end).end() != len(text):
        raise ValueError("not valid JSON")
    return value


def json_records(lines: Iterable[str], progress: Progress | None = None) -> Iterator:
    """JSON lines: one event body a line, plus ``type`` and ``group`` or ``instrument``."""
    for number, text in enumerate(_counting(lines, progress), 1):
        if not text.strip():
            continue
        try:
            body = _json_loads(text)
        except (ValueError, RecursionError):
            yield LineProblem(number, "body", "not valid JSON")
            continue
        if not isinstance(body, dict):
            yield LineProblem(number, "body", "must be a JSON object")
            continue
        yield Record(
            number,
            body.pop("group", None),
            body.pop("instrument", None),
            body.pop("type", None),
            body,
        )


def csv_records(lines: Iterable[str], progress: Progress | None = None) -> Iterator:
    """CSV rows (SPEC §4); consecutive rows equal up to ``note`` make one event."""
    reader = csv.reader(_counting(lines, progress))
    header = next(reader, None)
    if header is None:
        yield LineProblem(1, "header", "the file is empty")
        return
    problems = _header_problems(header)
    if problems:
        yield from problems
        return
    columns = _Columns(header)
    rows: list[list[str]] = []
    lines_of: list[int] = []
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cells):
            continue
        if len(cells) != len(header):
            yield LineProblem(line, "row", f"has {len(cells)} cells; the header has {len(header)}")
            continue
        if rows and columns.event_key(cells) != columns.event_key(rows[0]):
            yield columns.record(rows, lines_of)
            rows, lines_of = [], []
        rows.append(cells)
        lines_of.append(line)
    if rows:
        yield columns.record(rows, lines_of)


def _header_problems(header: list[str]) -> list[LineProblem]:
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing_columns = [name for name in REQUIRED_COLUMNS if name not in header]
    problems = [LineProblem(1, name or "header", "unknown column") for name in unknown]
    problems += [LineProblem(1, name, "missing column") for name in missing_columns]
    if "group" not in header and "instrument" not in header:
        problems.append(LineProblem(1, "group", "missing column (or instrument)"))
    if len(set(header)) != len(header):
        problems.append(LineProblem(1, "header", "a column is repeated"))
    return problems


class _Columns:
    """Where each column of SPEC §4 is in a CSV file's rows."""

    def __init__(self, header: list[str]) -> None:
        self.index = {name: i for i, name in enumerate(header)}
        self.event_indexes = [self.index[name] for name in EVENT_COLUMNS if name in self.index]
        self.sources = [(self.index[c], f) for c, f in SOURCE_COLUMNS.items() if c in self.index]

    def event_key(self, cells: list[str]) -> list[str]:
        return [cells[i] for i in self.event_indexes]

    def cell(self, cells: list[str], name: str) -> str:
        i = self.index.get(name)
        return "" if i is None else cells[i]

    def record(self, rows: list[list[str]], lines: list[int]) -> Record:
        """The event of a run of rows: the first row's fields, one source a row."""
        first = rows[0]
        body: dict = {}
        for name in ("participant", "effective_on"):
            if value := self.cell(first, name):
                body[name] = value
        body["earliest_on"] = self.cell(first, "earliest_on") or None
        body["note"] = self.cell(first, "note") or None
        if provisions := self.cell(first, "provisions").split():
            body["provisions"] = [int(p) if p.isdecimal() else p for p in provisions]
        sources, source_lines = [], []
        for cells, line in zip(rows, lines, strict=True):
            source = {name: cells[i] for i, name in self.sources if cells[i]}
            if source:
                sources.append(source)
                source_lines.append(line)
        if sources:
            body["sources"] = sources
        return Record(
            lines[0],
            self.cell(first, "group") or None,
            self.cell(first, "instrument") or None,
            self.cell(first, "type"),
            body,
            source_lines,
            csv=True,
        )


# --- the command ------------------------------------------------------------------------------


def import_events(
    session: Session, path: Path, *, dry_run: bool = False, progress: Progress | None = None
) -> Counter:
    """Check every line of the file and, unless ``dry_run``, add its events (not committed).

    Raises ``BulkProblems`` (every line at fault) or ``FileProblem``.
    """
    reader = EventReader(session, progress)
    return record_events_bulk(session, reader.read(path), "import", write=not dry_run)


def summary(counts: Counter) -> list[str]:
    """One line per group or instrument and event type, then the total."""
    width = max((len(slug) for _, slug, _ in counts), default=0)
    lines = [
        f"  {kind:<10} {slug:<{width}}  {event_type:<10} {n:>9,}"
        for (kind, slug, event_type), n in sorted(counts.items())
    ]
    return [*lines, f"  {'total':<{width + 23}} {sum(counts.values()):>9,}"]


def import_command(app: Flask, path: Path, dry_run: bool) -> None:
    """Run ``friendsgroup import`` and print what was (or would be) recorded."""
    started = time.monotonic()

    def progress(rows: int) -> None:
        rate = rows / max(time.monotonic() - started, 1e-9)
        click.echo(f"  {rows:,} lines read ({rate:,.0f} lines/s)", err=True)

    database = get_db(app)
    try:
        with database.transaction(write=not dry_run) as session, _no_cycle_collection():
            counts = import_events(session, path, dry_run=dry_run, progress=progress)
            if dry_run:
                session.rollback()
    except BulkProblems as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        lines = len({problem.line for problem in error.problems})
        _fail(f"{lines:,} line(s) of {path} are invalid; nothing was written")
    except FileProblem as error:
        _fail(f"{path}: {error}; nothing was written")
    except (SQLAlchemyError, psycopg.Error) as error:
        _fail(f"database error ({type(error).__name__}); nothing was written")
    seconds = time.monotonic() - started
    total = sum(counts.values())
    verb = "would record" if dry_run else "recorded"
    click.echo(f"{verb} {total:,} events from {path} in {seconds:.1f} s:")
    for line in summary(counts):
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector: it would walk the import's millions of live
    objects again and again (a third of the run) and find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
