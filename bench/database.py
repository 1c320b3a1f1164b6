"""The bench database: re-creating it, and the SQL the bench reads it with."""

import random
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/friendsgroup_bench"


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite file."""
    return url.startswith("sqlite")


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> str:
    """The file a SQLite URL names."""
    return url.removeprefix("sqlite:///")


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    """The database a URL names."""
    return urlsplit(url).path.lstrip("/")


def conninfo(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def recreate(url: str) -> None:
    """Drop and create the database (from the ``postgres`` database, outside a transaction)."""
    if is_sqlite(url):
        for suffix in ("", "-wal", "-shm"):
            Path(sqlite_path(url) + suffix).unlink(missing_ok=True)
        return
    name = sql.Identifier(database_name(url))
    admin = conninfo(with_database(url, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def server_facts(url: str) -> dict:
    """PostgreSQL's version and the settings that bear on the figures."""
    with psycopg.connect(conninfo(url)) as connection:
        facts = {"version": connection.execute("SHOW server_version").fetchone()[0]}
        for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections"):
            facts[name] = connection.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            facts[name] = facts[name].fetchone()[0]
        return facts


def vacuum_analyze(url: str) -> None:
    """Bring planner statistics and the visibility map up to date, as autovacuum would."""
    if is_sqlite(url):
        with closing(sqlite3.connect(sqlite_path(url))) as connection:
            connection.execute("ANALYZE")
        return
    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


def ids(url: str, table: str, key: str) -> dict[str, int]:
    """``key`` → id for every row of a table (groups, instruments, participants)."""
    query = sql.SQL("SELECT {}, id FROM {}").format(sql.Identifier(key), sql.Identifier(table))
    with psycopg.connect(conninfo(url)) as connection:
        return dict(connection.execute(query).fetchall())


def count(url: str, table: str) -> int:
    """The number of rows of a table."""
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    with psycopg.connect(conninfo(url)) as connection:
        return connection.execute(query).fetchone()[0]


# The last unretracted event of each (group, participant): retracting it keeps the history valid.
LAST_EVENTS = """
    SELECT e.id, g.slug, p.code
    FROM events e JOIN groups g ON g.id = e.group_id JOIN participants p ON p.id = e.participant_id
    WHERE e.retracted_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM events later
        WHERE later.group_id = e.group_id AND later.participant_id = e.participant_id
          AND later.retracted_at IS NULL
          AND (later.effective_on > e.effective_on
               OR (later.effective_on = e.effective_on AND later.id > e.id))
    )
"""


def last_events(url: str) -> list[tuple]:
    """(id, group slug, participant code) of every last event, on either database."""
    if is_sqlite(url):
        with closing(sqlite3.connect(sqlite_path(url))) as connection:
            return connection.execute(LAST_EVENTS).fetchall()
    with psycopg.connect(conninfo(url)) as connection:
        return connection.execute(LAST_EVENTS).fetchall()


def retraction_candidates(
    url: str, hot_group: str, hot: int, other: int, seed: int = 7
) -> list[int]:
    """Events whose retraction keeps their history valid: the last of a (participant, group).

    Dropping the last step of a valid alternation leaves a valid one. ``hot`` of them are
    taken from the hot group, chosen by participant code, so that every registry built with
    the same hot group retracts the same of its events; ``other`` from the other groups.
    """
    rows = last_events(url)
    rng = random.Random(seed)
    in_hot = sorted((code, event_id) for event_id, slug, code in rows if slug == hot_group)
    rest = sorted((slug, code, event_id) for event_id, slug, code in rows if slug != hot_group)
    chosen = [event_id for _, event_id in rng.sample(in_hot, min(len(in_hot), hot))]
    return chosen + [event_id for *_, event_id in rng.sample(rest, min(len(rest), other))]


def verify_writes(url: str, expected: dict) -> list[dict]:
    """Every 2xx write is in the database exactly once, and nothing else is."""
    with psycopg.connect(conninfo(url)) as connection:

        def one(query, *params):
            return connection.execute(query, params).fetchone()[0]

        p3_rows = connection.execute(
            "SELECT e.id FROM events e JOIN groups g ON g.id = e.group_id WHERE g.slug LIKE %s",
            ("bench-p3-%",),
        ).fetchall()
        checks = [
            ("groups", one("SELECT count(*) FROM groups"), expected["groups"]),
            ("instruments", one("SELECT count(*) FROM instruments"), expected["instruments"]),
            ("participants", one("SELECT count(*) FROM participants"), expected["participants"]),
            (
                "event sources",
                one("SELECT count(*) FROM sources WHERE event_id IS NOT NULL"),
                expected["sources"],
            ),
            ("events", one("SELECT count(*) FROM events"), expected["events"]),
            (
                "retracted events",
                sorted(
                    r[0]
                    for r in connection.execute(
                        "SELECT id FROM events WHERE retracted_at IS NOT NULL"
                    )
                ),
                sorted(expected["retracted_ids"]),
            ),
            ("P3 and P3q accessions", sorted(r[0] for r in p3_rows), sorted(expected["p3_ids"])),
        ]
    return [
        {
            "what": what,
            "database": len(found) if isinstance(found, list) else found,
            "2xx": len(wanted) if isinstance(wanted, list) else wanted,
            "ok": found == wanted,
        }
        for what, found, wanted in checks
    ]
