"""How bulk-checked events reach the database: ids taken ahead, COPY or multi-row INSERT.

Each batch of events is logged in the change log as soon as it is written, by one
INSERT … SELECT of exactly its ids (``changes.bulk_event_changes``).
"""

import json
import queue
import re
import threading
from datetime import UTC, date

from sqlalchemy import Integer, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..changes import NEW_EVENT_COLUMNS, active_webhooks, bulk_event_changes
from ..history import SOURCE_FIELDS
from ..models import Event, Source
from ..timeutil import utcnow
from .lines import NewEvent

WRITTEN_EVENT_COLUMNS = ("id", *NEW_EVENT_COLUMNS, "origin")
WRITTEN_SOURCE_COLUMNS = ("event_id", "position", *SOURCE_FIELDS)


class Writer:
    """Writes events and their sources with ids taken ahead, all recorded at one instant."""

    def __init__(self, session: Session, recorded_by: str) -> None:
        self.session = session
        self.recorded_by = recorded_by
        self.recorded_at = utcnow()
        # The changes of the events written, kept only when webhooks wait for them.
        self.changes: list | None = [] if active_webhooks(session) else None

    def event_row(self, event_id: int, item: NewEvent, key: tuple[str, int], who: int) -> tuple:
        data = item.data
        return (
            event_id,
            item.type,
            key[1] if key[0] == "group" else None,
            key[1] if key[0] == "instrument" else None,
            who,
            data["effective_on"],
            data.get("earliest_on"),
            data.get("provisions"),
            data.get("note"),
            self.recorded_at,
            self.recorded_by,
            data.get("origin"),
        )

    @staticmethod
    def source_rows(event_id: int, sources: list[dict]) -> list[tuple]:
        return [
            (
                event_id,
                position,
                source["url"],
                source.get("title"),
                source.get("publisher"),
                source.get("published_on"),
                source["reliability"],
            )
            for position, source in enumerate(sources)
        ]

    def add(self, item: NewEvent, key: tuple[str, int], who: int) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        """Let the session run a statement of its own."""

    def flush(self) -> None:
        """Start writing what is buffered (``close`` waits for it)."""

    def close(self) -> None:
        """Write what is still buffered."""

    def abort(self) -> None:
        """Stop writing; the transaction is about to be rolled back."""


class BatchWriter(Writer):
    """Multi-row INSERTs; ids follow the largest one, safe under SQLite's write lock."""

    BATCH = 5_000

    def __init__(self, session: Session, recorded_by: str) -> None:
        super().__init__(session, recorded_by)
        self.next_id = (session.scalar(select(func.max(Event.id))) or 0) + 1
        self.events: list[dict] = []
        self.sources: list[dict] = []
        # A batch's ids are consecutive: nothing else writes while SQLite's lock is held.
        self.log = bulk_event_changes(
            session,
            Event.id.between(bindparam("first"), bindparam("last")),
            self.changes is not None,
        )

    def add(self, item: NewEvent, key: tuple[str, int], who: int) -> None:
        event_id = self.next_id
        self.next_id += 1
        self.events.append(
            dict(zip(WRITTEN_EVENT_COLUMNS, self.event_row(event_id, item, key, who), strict=True))
        )
        for row in self.source_rows(event_id, item.data.get("sources") or []):
            self.sources.append(dict(zip(WRITTEN_SOURCE_COLUMNS, row, strict=True)))
        if len(self.events) >= self.BATCH:
            self.close()

    def close(self) -> None:
        if not self.events:
            return
        self.session.execute(insert(Event.__table__), self.events)
        if self.sources:
            self.session.execute(insert(Source.__table__), self.sources)
        logged = self.session.execute(
            self.log, {"first": self.events[0]["id"], "last": self.events[-1]["id"]}
        )
        if self.changes is not None:
            self.changes.extend(logged.all())
        self.events, self.sources = [], []


class CopyWriter(Writer):
    """PostgreSQL ``COPY``: events stream in while lines are still being read and checked.

    A thread of its own sends the rows and waits for the server: each ``COPY`` ends (and the
    server checks its foreign keys) while this thread goes on reading and checking lines.
    Rows reach it in batches through a bounded queue, so memory stays bounded. The session
    runs its own statements only after ``pause``, while the thread is idle.
    """

    FIRST_BATCH = 100
    LAST_BATCH = 25_000  # events (and ids taken ahead) per COPY statement
    ROWS_PER_HANDOFF = 1_000
    HANDOFFS_IN_FLIGHT = 16  # more lets this thread run ahead, and was measured slower

    def __init__(self, session: Session, recorded_by: str) -> None:
        super().__init__(session, recorded_by)
        # COPY of a timestamp without time zone: the naive UTC instant, as UTCDateTime stores it.
        self.recorded_at = self.recorded_at.astimezone(UTC).replace(tzinfo=None)
        self.cursor = session.connection().connection.driver_connection.cursor()
        self.sequence = self.cursor.execute(
            "SELECT pg_get_serial_sequence('events', 'id')"
        ).fetchone()[0]
        # The change log's INSERT, as the thread sends it on the driver's own cursor.
        log = bulk_event_changes(
            session,
            Event.id == any_(bindparam("ids", type_=ARRAY(Integer))),
            self.changes is not None,
        ).compile(dialect=session.get_bind().dialect)
        self.log_statement, self.log_parameters = str(log), log.params
        self.rows: list[tuple] = []  # (event row without its id, its sources' rows or None)
        self.target_cells: dict[tuple[str, int], str] = {}
        self.days: dict[date, str] = {}
        self.recorded_cells = f"{self.recorded_at.isoformat(sep=' ')}\t{_cell(recorded_by)}"
        self.queue: queue.Queue = queue.Queue(self.HANDOFFS_IN_FLIGHT)
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        # The thread's own state: ids taken ahead, the open COPY, its events' ids and sources.
        self.ids: list[int] = []
        self.copied: list[int] = []
        self.batch = self.FIRST_BATCH
        self.copy_context = None
        self.copy = None
        self.sources: list[tuple] = []

    def add(self, item: NewEvent, key: tuple[str, int], who: int) -> None:
        data = item.data
        target = self.target_cells.get(key)
        if target is None:
            target = self.target_cells[key] = (
                f"{key[1]}\t\\N" if key[0] == "group" else f"\\N\t{key[1]}"
            )
        earliest_on = data.get("earliest_on")
        provisions = data.get("provisions")
        note = data.get("note")
        origin = data.get("origin")
        # The row in COPY's text format, but for the id the thread puts in front of it.
        row = "\t".join(
            (
                item.type,
                target,
                str(who),
                self._day(data["effective_on"]),
                NULL if earliest_on is None else self._day(earliest_on),
                NULL if provisions is None else json.dumps(provisions),
                NULL if note is None else _cell(note),
                self.recorded_cells,
                NULL if origin is None else _cell(origin),
            )
        )
        sources = data.get("sources")
        self.rows.append((row, [_source_cells(s) for s in sources] if sources else None))
        if len(self.rows) >= self.ROWS_PER_HANDOFF:
            self._hand_off()

    def _day(self, day: date) -> str:
        text = self.days.get(day)
        if text is None:
            if len(self.days) >= 100_000:
                self.days.clear()
            text = self.days[day] = day.isoformat()
        return text

    def _hand_off(self) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="copy-writer", daemon=True)
            self.thread.start()
        self.queue.put(self.rows)
        self.rows = []

    def pause(self) -> None:
        """Wait until every row handed over is written and no COPY is open."""
        if self.rows:
            self._hand_off()
        if self.thread is not None:
            done = threading.Event()
            self.queue.put(done)
            done.wait()
        if self.error is not None:
            raise self.error

    def flush(self) -> None:
        """Hand the buffered rows over and let the thread end the COPY, without waiting."""
        if self.rows:
            self._hand_off()
        if self.thread is not None:
            self.queue.put(_END)

    def close(self) -> None:
        self.pause()
        self._stop(_STOP)

    def abort(self) -> None:
        self.rows = []
        self._stop(_ABORT)
        self._end_copy(aborted=True)

    def _stop(self, how: object) -> None:
        if self.thread is not None:
            self.queue.put(how)
            self.thread.join()
            self.thread = None

    # --- the thread ---

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            if message is _STOP or message is _ABORT:
                return
            if self.error is not None:  # drain until stopped
                if isinstance(message, threading.Event):
                    message.set()
                continue
            try:
                if message is _END:
                    self._end_copy()
                elif isinstance(message, threading.Event):
                    self._end_copy()
                    message.set()
                else:
                    self._write(message)
            except BaseException as error:  # handed to the main thread
                self.error = error
                if isinstance(message, threading.Event):
                    message.set()

    def _write(self, rows: list[tuple]) -> None:
        lines = []
        for row, sources in rows:
            if not self.ids:
                self._send(lines)
                lines = []
                self._end_copy()
                self._take_ids()
            event_id = self.ids.pop()
            self.copied.append(event_id)
            lines.append(f"{event_id}\t{row}\n")
            if sources:
                self.sources.extend(
                    f"{event_id}\t{position}\t{cells}\n" for position, cells in enumerate(sources)
                )
        self._send(lines)

    def _send(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.copy is None:
            columns = ", ".join(WRITTEN_EVENT_COLUMNS)
            self.copy_context = self.cursor.copy(f"COPY events ({columns}) FROM STDIN")
            self.copy = self.copy_context.__enter__()
        self.copy.write("".join(lines))

    def _take_ids(self) -> None:
        """Ids from the events' own sequence, so concurrent writers never collide."""
        rows = self.cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)", (self.sequence, self.batch)
        ).fetchall()
        self.ids = [row[0] for row in reversed(rows)]
        self.batch = min(self.batch * 4, self.LAST_BATCH)

    def _end_copy(self, aborted: bool = False) -> None:
        """End the open COPY of events (the server checks them), COPY their sources, log them."""
        if self.copy is not None:
            context, self.copy_context, self.copy = self.copy_context, None, None
            if aborted:
                error = RuntimeError("bulk write abandoned")
                try:
                    context.__exit__(type(error), error, None)
                except Exception:  # the COPY is being abandoned with its transaction
                    pass
            else:
                context.__exit__(None, None, None)
        if self.sources and not aborted:
            columns = ", ".join(WRITTEN_SOURCE_COLUMNS)
            with self.cursor.copy(f"COPY sources ({columns}) FROM STDIN") as copy:
                for at in range(0, len(self.sources), 1_000):
                    copy.write("".join(self.sources[at : at + 1_000]))
        self.sources = []
        if self.copied and not aborted:
            self._log_changes()
        self.copied = []

    def _log_changes(self) -> None:
        """The change log's rows of the events just copied, by one INSERT … SELECT of their ids."""
        self.cursor.execute(self.log_statement, {**self.log_parameters, "ids": self.copied})
        if self.changes is not None:
            self.changes.extend(self.cursor.fetchall())


# COPY's text format: tab between cells, \N for NULL, backslash escapes in text.
NULL = "\\N"
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _cell(text: str) -> str:
    """Text as one cell of COPY's text format."""
    return text.translate(_ESCAPES) if _SPECIAL.search(text) else text


def _source_cells(source: dict) -> str:
    """A source's cells after ``event_id`` and ``position``, in COPY's text format."""
    title, publisher, published_on = (
        source.get("title"),
        source.get("publisher"),
        source.get("published_on"),
    )
    return "\t".join(
        (
            _cell(source["url"]),
            NULL if title is None else _cell(title),
            NULL if publisher is None else _cell(publisher),
            NULL if published_on is None else published_on.isoformat(),
            _cell(source["reliability"]),
        )
    )


_STOP = object()
_ABORT = object()
_END = object()  # end the open COPY
