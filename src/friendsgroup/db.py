"""Database lifecycle: engines, one session per request, and write serialisation."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from .folding import register_sqlite
from .pinging import skip_recent_pings
from .watchdog import stop_watching, watch

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return url.startswith("sqlite")


def _takes_a_queue_pool(url: str) -> bool:
    """True when SQLAlchemy gives this URL's engine a pool of connections (a SQLite file gets
    one; an in-memory database gets one connection per thread, which has no order to set)."""
    parsed = make_url(url)
    return issubclass(parsed.get_dialect().get_pool_class(parsed), QueuePool)


@dataclass(frozen=True)
class Bounds:
    """How long any one wait on the database may last, in seconds (0: unbounded)."""

    connect: float = 2  # a new connection, the whole handshake (libpq's least is 2)
    statement: float = 3  # one statement (server side; the watchdog if the server hangs)
    lock: float = 2  # a lock held by another transaction; also SQLite's busy timeout
    idle_in_transaction: float = 10  # a transaction left open by a stuck client
    pool: float = 2  # waiting for a free pooled connection
    write_slot: float = 1  # a write waiting for its turn to hold a connection (PostgreSQL)

    @classmethod
    def from_config(cls, config) -> "Bounds":
        return cls(
            connect=config["DB_CONNECT_TIMEOUT"],
            statement=config["DB_STATEMENT_TIMEOUT"],
            lock=config["DB_LOCK_TIMEOUT"],
            idle_in_transaction=config["DB_IDLE_IN_TRANSACTION_TIMEOUT"],
            pool=config["DB_POOL_TIMEOUT"],
            write_slot=config["DB_WRITE_SLOT_TIMEOUT"],
        )


SQLITE_CACHE_KIB = 16 * 1024  # per connection; filled only as pages are read
SQLITE_BUSY_TIMEOUT = 10  # seconds; still well under the server's request timeout (30 s)

# What one-off callers (migrations, one-shot commands) get: only the connection is bounded.
UNBOUNDED = Bounds(statement=0, lock=0, idle_in_transaction=0, pool=0, write_slot=0)


def _milliseconds(seconds: float) -> int:
    return int(seconds * 1000)


# The pool hands out the connection returned last: what a connection keeps warm (SQLite's
# page cache, psycopg's prepared statements) serves the next request, where a queue would
# spread a light load over every connection and keep none of them warm.
POOL_USE_LIFO = True


def make_engine(url: str, *, pool_size: int = 5, bounds: Bounds | None = None) -> Engine:
    """An engine with the settings this service relies on for either database."""
    bounds = bounds or UNBOUNDED
    if is_sqlite(url):
        # The busy timeout bounds a writer queued behind the others: SQLite serialises every
        # writer, so its queue is longer than a row lock's and its bound is too.
        busy = max(bounds.lock, SQLITE_BUSY_TIMEOUT) if bounds.lock else 30
        pooled = {"pool_use_lifo": POOL_USE_LIFO} if _takes_a_queue_pool(url) else {}
        engine = create_engine(
            url, connect_args={"timeout": busy, "check_same_thread": False}, **pooled
        )
        _configure_sqlite(engine)
        return engine
    settings = {
        "statement_timeout": bounds.statement,
        "lock_timeout": bounds.lock,
        "idle_in_transaction_session_timeout": bounds.idle_in_transaction,
    }
    options = " ".join(f"-c {name}={_milliseconds(value)}" for name, value in settings.items())
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_use_lifo=POOL_USE_LIFO,
        pool_pre_ping=True,
        pool_timeout=bounds.pool or None,
        connect_args={"connect_timeout": max(1, round(bounds.connect)), "options": options},
    )
    if bounds.statement:
        # A frozen server enforces no timeout of its own: the watchdog cuts the wait, a little
        # after the server would have.
        watch(engine, bounds.statement + 0.5)
    # After the watchdog's wrapping of the ping, so that a ping still sent stays bounded.
    skip_recent_pings(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, and transactions begun by us so writers can take the lock first."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling would defer BEGIN; we emit it ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a transaction answered 2xx survives a power failure (NORMAL may lose the last).
        cursor.execute("PRAGMA synchronous=FULL")
        # A report reads a few hundred pages; SQLite's default page cache (2 MiB) lets them go
        # between requests, and reading them back through the OS costs a third of its statement.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()
        register_sqlite(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A writer takes the database lock at BEGIN, so two writers never interleave
        # their read-check-write sequences (SQLite has no row locks).
        if connection.get_execution_options().get("sqlite_immediate", False):
            # Through SQLAlchemy: a writer that waited past the busy timeout gets its
            # OperationalError, which the API answers with a 503.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A reader's BEGIN takes no lock, so it neither waits nor fails: straight to the
            # driver, without a statement's execution machinery (about a tenth of the CPU of
            # a members report on SQLite).
            connection.connection.driver_connection.execute("BEGIN")


# SQLite gathers no statistics for its query planner by itself, and without them it reads a
# group's pending accessions through the wrong index (every event of the group, not the few
# with an uncertain date). ANALYZE from a sample of each index, as ``PRAGMA optimize`` does:
# a few milliseconds on a 250,000-event file, where reading every index took 0.7 s.
SQLITE_ANALYSIS_LIMIT = 400


def refresh_planner_statistics(connection: Connection, wait: float | None = None) -> None:
    """On SQLite, gather the query planner's statistics afresh, waiting at most ``wait``
    seconds (if given) for another writer; elsewhere the database's own autovacuum does."""
    if connection.dialect.name != "sqlite":
        return
    if wait is not None:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={_milliseconds(wait)}")
    connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
    connection.exec_driver_sql("ANALYZE")


class Database:
    """Owns the engine and the session factories of one app."""

    def __init__(self, url: str, *, pool_size: int = 5, bounds: Bounds | None = None) -> None:
        self.url = url
        self.bounds = bounds or UNBOUNDED
        self.engine = make_engine(url, pool_size=pool_size, bounds=bounds)
        # A request's write holds its connection while it waits on row locks: on PostgreSQL at
        # most pool_size of them hold one at a time, so the pool's overflow stays free for
        # reads. (SQLite queues writers at its database lock instead, within its busy timeout.)
        self.write_slots = None if is_sqlite(url) else threading.BoundedSemaphore(pool_size)
        writer = self.engine.execution_options(sqlite_immediate=True)
        # Reads on PostgreSQL need no transaction of their own (each report is one or two
        # statements): autocommit saves the BEGIN and ROLLBACK round trips on every GET.
        reader = (
            self.engine
            if is_sqlite(url)
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.read_sessions = sessionmaker(reader, expire_on_commit=False)
        self.write_sessions = sessionmaker(writer, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True when this database is SQLite."""
        return is_sqlite(self.url)

    def session(self, *, write: bool) -> Session:
        """A new session; a writing one serialises against other writers on SQLite."""
        return (self.write_sessions if write else self.read_sessions)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (CLI and background use)."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def take_write_slot(self) -> bool:
        """Wait (bounded) for a request's turn to write; past the bound, a pool timeout.

        False when this database needs no slot."""
        if self.write_slots is None:
            return False
        if not self.write_slots.acquire(timeout=self.bounds.write_slot or None):
            raise PoolTimeout("every write slot of this process is taken")
        return True

    def dispose(self) -> None:
        """Close every pooled connection and end the watchdog's thread until the next use."""
        self.engine.dispose()
        stop_watching(self.engine)


def init_app(app: Flask) -> Database:
    """Bind a database to the app and close the request's session at teardown."""
    database = Database(
        app.config["DATABASE_URL"],
        pool_size=app.config["DB_POOL_SIZE"],
        bounds=Bounds.from_config(app.config),
    )
    app.extensions["friendsgroup.db"] = database
    app.teardown_appcontext(close_session)
    return database


def get_db(app: Flask | None = None) -> Database:
    """The database bound to the (current) app."""
    return (app or current_app).extensions["friendsgroup.db"]


def get_session() -> Session:
    """The session of the current request, opened on first use."""
    if "db_session" not in g:
        database = get_db()
        write = request.method not in SAFE_METHODS
        if write and database.take_write_slot():
            g.db_write_slot = database
        g.db_session = database.session(write=write)
    return g.db_session


def has_session() -> bool:
    """True when the current request opened a session."""
    return "db_session" in g


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back whatever the request left uncommitted and return the connection."""
    session = g.pop("db_session", None)
    try:
        if session is not None:
            session.close()
    finally:
        holder = g.pop("db_write_slot", None)
        if holder is not None:
            holder.write_slots.release()
