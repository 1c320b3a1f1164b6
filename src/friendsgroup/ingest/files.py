"""Events from CSV or JSON lines files, as records loaded by the API's own schemas.

The file is read once, as a stream; each line becomes an event to record or the problems of
that line, named by line and field (the format: the README's "CLI"). ``import_events``
hands them to the bulk gate.
"""

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import flatten_errors
from ..models import EVENT_TYPES, GROUP_EVENT_TYPES, INSTRUMENT_EVENT_TYPES, Group, Instrument
from ..schemas import CommitmentCreateSchema, EventCreateSchema, ReportCreateSchema
from .bodies import BodyLoader
from .bulk import record_events_bulk
from .lines import LineProblem, NewEvent

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
SAME_EVENT_COLUMNS = CSV_COLUMNS[:8]
SOURCE_CELLS = {
    "source_url": "url",
    "source_title": "title",
    "source_published_on": "published_on",
    "source_reliability": "reliability",
}
REQUIRED_COLUMNS = ("type", "participant", "effective_on")
# A keyed dataset (the seeds) names each event by a stable key: its rows share it.
KEY_COLUMN = "key"
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

Progress = Callable[[int], None]


class FileProblem(Exception):
    """A file that cannot be read at all (not UTF-8, no header)."""


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
    key: str | None = None
    problems: list[LineProblem] = field(default_factory=list)  # found while reading the cells

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

    def __init__(
        self, session: Session, progress: Progress | None = None, origin_prefix: str | None = None
    ) -> None:
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
        # Set for a keyed dataset: each event remembers its row as ``origin_prefix + key``.
        self.origin_prefix = origin_prefix

    def read(self, path: Path) -> Iterator[NewEvent | LineProblem]:
        """Every event of the file, or the problems of its lines, in file order."""
        with path.open("rb", buffering=READ_BUFFER) as handle:
            lines = _text_lines(handle)
            if file_format(path) == "csv":
                records = csv_records(lines, self.progress, keyed=self.origin_prefix is not None)
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
        problems.extend(record.problems)
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
        if record.key is not None and self.origin_prefix is not None:
            data["origin"] = self.origin_prefix + record.key
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


def csv_records(
    lines: Iterable[str], progress: Progress | None = None, *, keyed: bool = False
) -> Iterator:
    """CSV rows of the import format; consecutive rows equal up to ``note`` make one event.

    ``keyed``: the file has a ``key`` column, and consecutive rows of one key make one event.
    """
    reader = csv.reader(_counting(lines, progress))
    header = next(reader, None)
    if header is None:
        yield LineProblem(1, "header", "the file is empty")
        return
    problems = _header_problems(header, keyed)
    if problems:
        yield from problems
        return
    columns = _Columns(header)
    rows: list[list[str]] = []
    lines_of: list[int] = []
    first_line_of: dict[str, int] = {}
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cells):
            continue
        if len(cells) != len(header):
            yield LineProblem(line, "row", f"has {len(cells)} cells; the header has {len(header)}")
            continue
        if keyed:
            key = columns.cell(cells, KEY_COLUMN)
            if rows and key == columns.cell(rows[0], KEY_COLUMN):
                yield from columns.same_event(cells, rows[0], line, key)
            elif key in first_line_of or not key:
                message = f"repeats the key of line {first_line_of[key]}" if key else "is empty"
                yield LineProblem(line, KEY_COLUMN, message)
                continue
            else:
                first_line_of[key] = line
        if rows and (
            columns.cell(cells, KEY_COLUMN) != columns.cell(rows[0], KEY_COLUMN)
            if keyed
            else columns.event_key(cells) != columns.event_key(rows[0])
        ):
            yield columns.record(rows, lines_of)
            rows, lines_of = [], []
        rows.append(cells)
        lines_of.append(line)
    if rows:
        yield columns.record(rows, lines_of)


def _header_problems(header: list[str], keyed: bool = False) -> list[LineProblem]:
    known = (*CSV_COLUMNS, KEY_COLUMN) if keyed else CSV_COLUMNS
    required = (KEY_COLUMN, *REQUIRED_COLUMNS) if keyed else REQUIRED_COLUMNS
    unknown = [name for name in header if name not in known]
    missing_columns = [name for name in required if name not in header]
    problems = [LineProblem(1, name or "header", "unknown column") for name in unknown]
    problems += [LineProblem(1, name, "missing column") for name in missing_columns]
    if "group" not in header and "instrument" not in header:
        problems.append(LineProblem(1, "group", "missing column (or instrument)"))
    if len(set(header)) != len(header):
        problems.append(LineProblem(1, "header", "a column is repeated"))
    return problems


class _Columns:
    """Where each column of the import format is in a CSV file's rows."""

    def __init__(self, header: list[str]) -> None:
        self.index = {name: i for i, name in enumerate(header)}
        self.event_indexes = [self.index[name] for name in SAME_EVENT_COLUMNS if name in self.index]
        self.sources = [(self.index[c], f) for c, f in SOURCE_CELLS.items() if c in self.index]

    def event_key(self, cells: list[str]) -> list[str]:
        return [cells[i] for i in self.event_indexes]

    def cell(self, cells: list[str], name: str) -> str:
        i = self.index.get(name)
        return "" if i is None else cells[i]

    def same_event(self, cells: list[str], first: list[str], line: int, key: str) -> list:
        """Problems of a further source row of a key that differs from its first row."""
        return [
            LineProblem(line, name, f"differs from the first row of key {key!r}")
            for name in SAME_EVENT_COLUMNS
            if name in self.index and self.cell(cells, name) != self.cell(first, name)
        ]

    def record(self, rows: list[list[str]], lines: list[int]) -> Record:
        """The event of a run of rows: the first row's fields, one source a row."""
        first = rows[0]
        body: dict = {}
        for name in ("participant", "effective_on"):
            if value := self.cell(first, name):
                body[name] = value
        body["earliest_on"] = self.cell(first, "earliest_on") or None
        body["note"] = self.cell(first, "note") or None
        problems = []
        if provisions := self.cell(first, "provisions").split():
            bad = [p for p in provisions if not (p.isascii() and p.isdecimal())]
            if bad:
                problems.append(
                    LineProblem(
                        lines[0],
                        "provisions",
                        f"{bad[0]!r} is not a provision number: give numbers separated by "
                        "spaces (e.g. '1 2 5'), or leave the cell empty for all provisions",
                    )
                )
            else:
                body["provisions"] = [int(p) for p in provisions]
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
            key=self.cell(first, KEY_COLUMN) or None,
            problems=problems,
        )


def import_events(
    session: Session,
    path: Path,
    *,
    recorded_by: str = "import",
    dry_run: bool = False,
    progress: Progress | None = None,
    skip_existing: bool = False,
    skipped: list[LineProblem] | None = None,
) -> Counter:
    """Check every line of the file and, unless ``dry_run``, add its events (not committed).

    Raises ``BulkProblems`` (every line at fault) or ``FileProblem``.
    """
    reader = EventReader(session, progress)
    return record_events_bulk(
        session,
        reader.read(path),
        recorded_by,
        write=not dry_run,
        skip_existing=skip_existing,
        skipped=skipped,
    )
