"""Load a dump (or a SQLite backup) into a migrated, empty database: every line checked,
the rules of history re-checked, all in one transaction."""

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby, islice
from operator import itemgetter
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, create_engine, exists, select

from .. import migrate
from ..db import refresh_planner_statistics
from ..history import Step, timeline_problem
from ..models import Event, Group, Instrument, Participant, same_day_place, timeline_order
from . import PortabilityError
from .dump import dump_chunks
from .dumpfile import Body, LineError, check_header, columns_decoder, lines_of, parse, parse_many
from .schema import NOT_FACTS, TOKENS, DumpedTable, all_tables, dumped_table
from .writers import advance_sequences, keys_after_rows, writer_for

Progress = Callable[[str], None]
PROGRESS_EVERY = 50_000
# Lines read, parsed and checked at once.
BATCH = 2_000
SQLITE_MAGIC = b"SQLite format 3\x00"


def restore_file(engine: Engine, path: str, progress: Progress | None = None) -> dict[str, int]:
    """Restore a dump file (``-`` for stdin) or a SQLite backup into the database."""
    if path == "-":
        return restore_lines(engine, sys.stdin.buffer, progress)
    file = Path(path)
    with file.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
            return _restore_sqlite_backup(engine, file, progress)
        handle.seek(0)
        return restore_lines(engine, handle, progress)


def _restore_sqlite_backup(engine: Engine, file: Path, progress) -> dict[str, int]:
    """A backup is a SQLite database: it is dumped (read-only) straight into the restore."""
    source = create_engine(f"sqlite:///file:{file.resolve()}?mode=ro&uri=true")
    try:
        status = migrate.schema_status(source)
        if not status.at_head:
            raise PortabilityError(
                f"the backup is of schema revision {status.current}, "
                f"this friendsgroup is at {status.head}: upgrade a copy of it "
                "first (DATABASE_URL=sqlite:///COPY friendsgroup db upgrade)"
            )
        return restore_lines(engine, lines_of(dump_chunks(source)), progress)
    finally:
        source.dispose()


def restore_lines(
    engine: Engine, lines: Iterable[bytes] | IO[bytes], progress: Progress | None = None
) -> dict[str, int]:
    """Restore the dump given line by line; the rows restored per table. Nothing on error."""
    status = migrate.schema_status(engine)
    if not status.at_head:
        raise PortabilityError(
            f"database at {status.current or 'base'}, code expects {status.head}: "
            "run 'friendsgroup db upgrade' first"
        )
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        raise PortabilityError("the file is empty")
    header = check_header(parse(1, first))
    if header["revision"] != status.head:
        raise PortabilityError(
            f"the dump is of schema revision {header['revision']}, this database is at "
            f"{status.head}: restore it with the friendsgroup release of that revision"
        )
    plan = _plan(header)
    writing = engine.execution_options(sqlite_immediate=True)
    with writing.connect() as connection, connection.begin():
        _refuse_if_not_empty(connection, plan)
        with keys_after_rows(connection, [table for table, _ in plan]):
            counts = _load(connection, lines, plan, progress)
        if progress and sum(counts.values()) >= PROGRESS_EVERY:
            progress("restore: checking the rules of history")
        check_history(connection)
        advance_sequences(connection, [table for table, _ in plan])
        refresh_planner_statistics(connection)
    if progress:
        progress(f"restore: {sum(counts.values()):,} rows of {len(counts)} tables committed")
    return counts


def _plan(header: dict) -> list[tuple[DumpedTable, int]]:
    """The header's tables, each a table of this schema with the same columns, in order."""
    known = {table.name: (position, table) for position, table in enumerate(all_tables())}
    named = [entry["name"] for entry in header["tables"]]
    accounted = set(named) | set(header["left_out"])
    if accounted != set(known) or len(named) != len(set(named)):
        unknown = sorted(accounted - set(known)) or sorted(set(known) - accounted)
        raise PortabilityError(
            f"line 1: the header's tables do not match this schema ({', '.join(unknown)})"
        )
    plan, last = [], -1
    for entry in header["tables"]:
        position, table = known[entry["name"]]
        if table.name in NOT_FACTS:
            raise PortabilityError(f"line 1: {table.name} holds no facts and is never restored")
        if position < last:
            raise PortabilityError(f"line 1: {table.name} comes before a table it depends on")
        last = position
        dumped = dumped_table(table)
        if entry["columns"] != dumped.header():
            raise PortabilityError(f"line 1: the columns of {table.name} differ from this schema")
        if entry["rows"] < 0:
            raise PortabilityError(f"line 1: {table.name} has a negative row count")
        plan.append((dumped, entry["rows"]))
    return plan


def _refuse_if_not_empty(connection: Connection, plan) -> None:
    """Refuse a database with facts, or with rows where the dump brings some.

    Tokens made before the restore may stay when the dump brings none: they are no facts.
    """
    restored = {table.name for table, _ in plan}
    for table in all_tables():
        if table.name in NOT_FACTS | TOKENS and table.name not in restored:
            continue
        if connection.scalar(select(exists().select_from(table))):
            raise PortabilityError(
                f"the database is not empty ({table.name} has rows): restore only into a new, "
                "migrated database"
            )


def _load(connection: Connection, lines: Iterator[bytes], plan, progress) -> dict[str, int]:
    """Write every row, checking each line, the sections against the header, the digest."""
    load = _Load(connection, plan, progress)
    try:
        # Line 1, the header, is read already; a line after the closing one is refused by
        # ``_Load`` wherever in a batch it stands.
        for number, batch in _batches(lines, 2):
            load.lines(number, batch)
        if not load.closed:
            raise PortabilityError("the file ends before its closing line: it is truncated")
        return load.counts
    except BaseException:
        load.abort()
        raise


def _batches(lines: Iterator[bytes], number: int) -> Iterator[tuple[int, list[bytes]]]:
    """The lines in lists of at most BATCH, each with the number of its first line."""
    while batch := list(islice(lines, BATCH)):
        yield number, batch
        number += len(batch)


class _Load:
    """A restore between two lines: the table being loaded, its writer, the digest so far."""

    def __init__(self, connection: Connection, plan, progress) -> None:
        self.connection, self.progress = connection, progress
        self.pending = iter(plan)
        self.body = Body()
        self.counts: dict[str, int] = {}
        self.table = self.writer = self.decode = None
        self.expected = self.done = 0
        self.closed = False

    def lines(self, number: int, batch: list[bytes]) -> None:
        """Lines from ``number`` on: each run of rows at once, every other line by itself."""
        values, broken = parse_many(number, batch)
        kinds = list(map(type, values))
        start = 0
        while start < len(values):
            end = start
            while end < len(kinds) and kinds[end] is list:
                end += 1
            if end > start:
                self.rows(number + start, batch[start:end], values[start:end])
            if end < len(values):
                self.line(number + end, batch[end], values[end])
                end += 1
            start = end
        if broken is not None:
            if self.closed:
                raise LineError(number + len(values), "a line after the closing line")
            raise broken

    def rows(self, number: int, lines: list[bytes], values: list[list]) -> None:
        """Consecutive row lines of the current table, checked, written and digested."""
        if self.closed:
            raise LineError(number, "a line after the closing line")
        if self.table is None:
            raise LineError(number, "a row before the first table")
        self.writer.add(self.decode(number, values))
        self.body.update(b"".join(lines))
        before, self.done = self.done, self.done + len(values)
        if self.progress and before // PROGRESS_EVERY < self.done // PROGRESS_EVERY:
            self.progress(f"restore: {self.table.name} {self.done:,}/{self.expected:,}")

    def line(self, number: int, line: bytes, value) -> None:
        """A line that is no row: a table's opening, the closing line, or a refusal."""
        if self.closed:
            raise LineError(number, "a line after the closing line")
        if type(value) is dict and "table" in value:
            self.finish(number)
            following = next(self.pending, None)
            if following is None or following[0].name != value["table"]:
                wanted = following[0].name if following else "the closing line"
                raise LineError(number, f"table {value['table']!r} where {wanted} was due")
            (self.table, self.expected), self.done = following, 0
            self.writer = writer_for(self.connection, self.table)
            self.decode = columns_decoder(self.table)
            self.body.update(line)
            return
        if type(value) is dict and value.get("end") is True:
            self.finish(number)
            _check_closing(number, value, self.body, sum(self.counts.values()), self.pending)
            self.closed = True
            return
        raise LineError(number, "neither a row, a table nor the closing line")

    def finish(self, number: int) -> None:
        """The end of the current table's rows: all written, as many as the header says."""
        if self.table is None:
            return
        self.writer.close()
        name, done, self.table = self.table.name, self.done, None
        if done != self.expected:
            raise LineError(number, f"{name} has {done} rows, the header says {self.expected}")
        self.counts[name] = done

    def abort(self) -> None:
        """An open COPY must be ended before the transaction can be rolled back."""
        if self.table is not None and hasattr(self.writer, "abort"):
            self.writer.abort()


def _check_closing(number: int, value: dict, body: Body, rows: int, pending) -> None:
    missing = [table.name for table, _ in pending]
    if missing:
        raise LineError(number, f"the closing line comes before {', '.join(missing)}")
    if value.get("rows") != rows:
        raise LineError(number, f"the closing line counts {value.get('rows')} rows, not {rows}")
    if value.get("sha256") != body.hexdigest():
        raise LineError(number, "the digest does not match the lines: the file was altered")


def check_history(connection: Connection) -> None:
    """Each participant's visible events in each group and instrument, by history's rules."""
    key = (Event.group_id, Event.instrument_id, Event.participant_id)
    # Same-day events in their places, as every write saw them: a correction keeps the place
    # of the event it replaced, so its id alone would put it after its later peers.
    place = same_day_place()
    statement = (
        select(*key, place, Event.type, Event.effective_on, Event.earliest_on, Event.id)
        .where(Event.retracted_at.is_(None))
        .order_by(*key, *timeline_order())
    )
    # Options on the statement: on the connection they would stay for every later one.
    rows = connection.execute(statement.execution_options(yield_per=10_000))
    try:
        for (group_id, instrument_id, participant_id), timeline in groupby(
            rows, key=itemgetter(0, 1, 2)
        ):
            steps = [
                Step(type_, on, place_, id_, earliest)
                for _, _, _, place_, type_, on, earliest, id_ in timeline
            ]
            if timeline_problem(steps, None, "", group_id is not None) is not None:
                problem = _named_problem(connection, steps, group_id, instrument_id, participant_id)
                raise PortabilityError(f"the dump breaks the rules of history: {problem.detail}")
    finally:
        rows.close()


def _named_problem(connection: Connection, steps, group_id, instrument_id, participant_id):
    """The broken timeline's problem again, naming the target and the participant."""
    target = connection.scalar(
        select(Group.slug).where(Group.id == group_id)
        if group_id is not None
        else select(Instrument.slug).where(Instrument.id == instrument_id)
    )
    who = connection.scalar(select(Participant.code).where(Participant.id == participant_id))
    return timeline_problem(steps, None, target, group_id is not None, who)
