"""The floors: the same work done by psycopg straight against PostgreSQL, with no service."""

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Json

from .commands import measured
from .database import conninfo, sqlite_path

# P1's floor: members on a date as one query. The last visible event of each participant
# on or before as_of decides; an accession there makes a member since its date.
MEMBERS_SQL = """
SELECT p.code, p.name, p.kind, p.region, last.effective_on AS member_since,
       last.earliest_on IS NOT NULL AS date_uncertain
FROM (
    SELECT DISTINCT ON (e.participant_id) e.participant_id, e.type, e.effective_on, e.earliest_on
    FROM events e JOIN groups g ON g.id = e.group_id
    WHERE g.slug = %(slug)s AND e.effective_on <= %(as_of)s
      AND e.recorded_at <= %(now)s AND (e.retracted_at IS NULL OR e.retracted_at > %(now)s)
    ORDER BY e.participant_id, e.effective_on DESC, e.id DESC
) AS last
JOIN participants p ON p.id = last.participant_id
WHERE last.type = 'accession'
ORDER BY p.name, p.code
"""

EVENT_COLUMNS = (
    "id, type, group_id, instrument_id, participant_id, effective_on, earliest_on, provisions, "
    "note, recorded_at, recorded_by, retracted_at, retraction_reason, supersedes_id"
)


def bare_table(connection: psycopg.Connection, name: str) -> None:
    """A plain table with the events' columns and none of their keys, indexes or checks."""
    connection.execute(f"DROP TABLE IF EXISTS {name}")
    connection.execute(f"CREATE TABLE {name} (LIKE events)")
    connection.commit()


# The same answer on SQLite, which has no DISTINCT ON: the first row of each participant's
# events, newest first, by a window. Dates and instants are stored as ISO text there.
SQLITE_MEMBERS_SQL = """
SELECT p.code, p.name, p.kind, p.region, last.effective_on AS member_since,
       last.earliest_on IS NOT NULL AS date_uncertain
FROM (
    SELECT e.participant_id, e.type, e.effective_on, e.earliest_on,
           row_number() OVER (PARTITION BY e.participant_id
                              ORDER BY e.effective_on DESC, e.id DESC) AS rank
    FROM events e JOIN groups g ON g.id = e.group_id
    WHERE g.slug = :slug AND e.effective_on <= :as_of
      AND e.recorded_at <= :now AND (e.retracted_at IS NULL OR e.retracted_at > :now)
) AS last
JOIN participants p ON p.id = last.participant_id
WHERE last.rank = 1 AND last.type = 'accession'
ORDER BY p.name, p.code
"""


def naive_now() -> datetime:
    """Now as the events table keeps it: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def members_steps(url: str, slug: str, dates: list) -> Iterator[tuple[float, list]]:
    """The members query on each date in turn: its seconds (all rows fetched) and its
    (code, member_since) answer."""
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        for as_of in dates:
            now = naive_now()
            started = time.perf_counter()
            rows = connection.execute(
                MEMBERS_SQL, {"slug": slug, "as_of": as_of, "now": now}
            ).fetchall()
            elapsed = time.perf_counter() - started
            yield elapsed, [(row[0], row[4].isoformat()) for row in rows]


def sqlite_readonly(path: str) -> sqlite3.Connection:
    """The SQLite file, read-only, with the ``sqlite3`` module's default settings."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def sqlite_members_params(slug: str, as_of) -> dict:
    """``SQLITE_MEMBERS_SQL``'s parameters: dates and instants as the file keeps them."""
    now = naive_now().isoformat(sep=" ", timespec="microseconds")
    return {"slug": slug, "as_of": as_of.isoformat(), "now": now}


def sqlite_members_steps(url: str, slug: str, dates: list) -> Iterator[tuple[float, list]]:
    """``members_steps`` through ``sqlite3`` on the service's own file (``sqlite_readonly``)."""
    with closing(sqlite_readonly(sqlite_path(url))) as connection:
        for as_of in dates:
            params = sqlite_members_params(slug, as_of)
            started = time.perf_counter()
            rows = connection.execute(SQLITE_MEMBERS_SQL, params).fetchall()
            elapsed = time.perf_counter() - started
            yield elapsed, [(row[0], row[4]) for row in rows]


def insert_seconds(url: str, total: int, threads: int) -> float:
    """Seconds for ``total`` single-row INSERT + COMMIT from ``threads`` connections."""
    with psycopg.connect(conninfo(url)) as connection:
        bare_table(connection, "bench_floor_inserts")
        group_id, participant_id = connection.execute(
            "SELECT (SELECT min(id) FROM groups), (SELECT min(id) FROM participants)"
        ).fetchone()
    per_thread = total // threads
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            with psycopg.connect(conninfo(url)) as connection:
                start.wait()
                for i in range(offset, offset + per_thread):
                    connection.execute(
                        "INSERT INTO bench_floor_inserts (id, type, group_id, participant_id,"
                        " effective_on, recorded_at, recorded_by)"
                        " VALUES (%s, 'accession', %s, %s, current_date, %s, 'bench')",
                        (i, group_id, participant_id, datetime.now(UTC).replace(tzinfo=None)),
                    )
                    connection.commit()
        except BaseException as error:  # surfaced below, in the caller's thread
            errors.append(error)
            start.abort()

    workers = [threading.Thread(target=work, args=(t * per_thread,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass  # a worker failed: its error is raised below
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return elapsed


def _copy_in(connection: psycopg.Connection, table: str, rows) -> None:
    """One COPY of ``rows`` (the events' columns) into ``table``."""
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def copy_rate(url: str, rows: list[tuple]) -> float:
    """Rows per second of one COPY of ``rows`` (the events' columns) into a bare table."""
    with psycopg.connect(conninfo(url)) as connection:
        bare_table(connection, "bench_floor_copy")
        started = time.perf_counter()
        _copy_in(connection, "bench_floor_copy", rows)
        connection.commit()
        return len(rows) / (time.perf_counter() - started)


def keyed_copy_rate(url: str, rows: list[tuple]) -> float:
    """Rows per second of one COPY of ``rows`` into the registry's own events table, its
    keys, indexes and checks kept up, then rolled back: what the database alone spends on an
    import's events, before any change row or rule. Ids follow the registry's last."""
    with psycopg.connect(conninfo(url)) as connection:
        offset = connection.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        started = time.perf_counter()
        _copy_in(connection, "events", ((row[0] + offset, *row[1:]) for row in rows))
        seconds = time.perf_counter() - started
        connection.rollback()
    return len(rows) / seconds


def copy_out_rate(url: str) -> float:
    """Rows per second of a plain ``COPY events TO STDOUT``, every byte read by the client."""
    with psycopg.connect(conninfo(url)) as connection:
        rows = connection.execute("SELECT count(*) FROM events").fetchone()[0]
        started = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.copy("COPY events TO STDOUT") as copy:
                for _ in copy:
                    pass
        return rows / (time.perf_counter() - started)


def has_postgres_tools() -> bool:
    """True when PostgreSQL's client tools (``pg_dump``, ``pg_restore``) are installed."""
    return shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def pg_dump_seconds(url: str, path: Path, log: Path) -> float:
    """Wall seconds of the README's ``pg_dump --format=custom`` of the whole database."""
    command = ["pg_dump", "--format=custom", f"--file={path}", conninfo(url)]
    return _tool_seconds(command, log)


def pg_restore_seconds(url: str, path: Path, log: Path) -> float:
    """Wall seconds of the README's ``pg_restore`` of that file into a new, empty database."""
    return _tool_seconds(["pg_restore", "--no-owner", f"--dbname={conninfo(url)}", str(path)], log)


def _tool_seconds(command: list[str], log: Path) -> float:
    done = measured(command, dict(os.environ), log, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{done.output[-2000:]}")
    return done.seconds


def event_rows(events: list[dict], groups: dict, instruments: dict, participants: dict) -> list:
    """The import file's events as rows of the events table (ids resolved, nothing checked)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        (
            i,
            e["type"],
            groups.get(e.get("group")),
            instruments.get(e.get("instrument")),
            participants[e["participant"]],
            e["effective_on"],
            e.get("earliest_on"),
            Json(e["provisions"]) if "provisions" in e else None,
            e.get("note"),
            now,
            "bench",
            None,
            None,
            None,
        )
        for i, e in enumerate(events, start=1)
    ]
