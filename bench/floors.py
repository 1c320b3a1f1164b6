"""The floors: the same work done by psycopg straight against PostgreSQL, with no service."""

import threading
import time
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Json

from .database import conninfo

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


def members_latency(url: str, slug: str, as_of, n: int, warmup: int) -> tuple[list[float], list]:
    """Seconds per run of the members query (all rows fetched), and its last answer."""
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        timings, rows = [], []
        for i in range(warmup + n):
            now = datetime.now(UTC).replace(tzinfo=None)  # the events table keeps naive UTC
            started = time.perf_counter()
            rows = connection.execute(
                MEMBERS_SQL, {"slug": slug, "as_of": as_of, "now": now}
            ).fetchall()
            if i >= warmup:
                timings.append(time.perf_counter() - started)
        return timings, rows


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


def copy_rate(url: str, rows: list[tuple]) -> float:
    """Rows per second of one COPY of ``rows`` (the events' columns) into a bare table."""
    with psycopg.connect(conninfo(url)) as connection:
        bare_table(connection, "bench_floor_copy")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY bench_floor_copy ({EVENT_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        connection.commit()
        return len(rows) / (time.perf_counter() - started)


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
