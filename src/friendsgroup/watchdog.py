"""A bound on every PostgreSQL round trip, even when the server cannot answer at all.

``statement_timeout`` and ``lock_timeout`` are enforced by the server; a server that is frozen
(a hung host, a partition) enforces nothing, and libpq has no read timeout. The watchdog notes
when each connection started waiting on the server and, past the bound, shuts the socket down:
the blocked read fails at once, the connection is invalidated and the request answers 503.
"""

import os
import socket
import threading
import time
import weakref

from sqlalchemy import Engine, event

CHECK_EVERY = 0.2  # seconds between checks; a bound is kept within this much
PING_BOUND = 1.0


class Watchdog:
    """One thread per process that cuts connections waiting longer than ``bound`` seconds."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        # id(connection) -> (deadline, fd, the connection): the fd is checked against the
        # connection before a cut, as a closed connection's number may be another's by then.
        self._waiting: dict[int, tuple[float, int, weakref.ref]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._pid = 0
        # Its own name: a process may hold several engines, each with its watchdog.
        self.thread_name = f"db-watchdog-{id(self):x}"

    def arm(self, dbapi_connection, bound: float | None = None) -> None:
        """The connection starts waiting on the server (for ``bound`` seconds at most)."""
        self._ensure_thread()
        fd = dbapi_connection.pgconn.socket
        deadline = time.monotonic() + (bound or self.bound)
        with self._lock:
            self._waiting[id(dbapi_connection)] = (deadline, fd, weakref.ref(dbapi_connection))

    def disarm(self, dbapi_connection) -> None:
        """The server answered."""
        with self._lock:
            self._waiting.pop(id(dbapi_connection), None)

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn workers) the parent's thread does not exist in the child.
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._stopped = threading.Event()
                    self._thread = threading.Thread(
                        target=self._run, args=(self._stopped,), name=self.thread_name, daemon=True
                    )
                    self._thread.start()

    def stop(self) -> None:
        """End the thread, forgetting every wait (the next wait starts it again)."""
        with self._lock:
            self._stopped.set()
            self._thread = None
            self._waiting.clear()

    def _run(self, stopped: threading.Event) -> None:
        while not stopped.wait(CHECK_EVERY):
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, *_) in self._waiting.items() if deadline < now]
                cut = [self._waiting.pop(key)[1:] for key in late]
            for fd, connection in cut:
                if _still_owns(connection(), fd):
                    _shut_down(fd)


def _still_owns(connection, fd: int) -> bool:
    """True when ``connection`` is open on socket ``fd`` (not closed, its number not reused)."""
    if connection is None or connection.closed:
        return False
    try:
        return connection.pgconn.socket == fd
    except Exception:  # a connection closed meanwhile has no socket
        return False


def _shut_down(fd: int) -> None:
    """Shut a socket down without closing its descriptor (libpq still owns it)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


# Each engine's watchdog, so that disposing of the engine ends its thread (an app made per
# test, or per command, would otherwise leave one polling thread behind each time).
_WATCHED: "weakref.WeakKeyDictionary[Engine, Watchdog]" = weakref.WeakKeyDictionary()


def watchdog_of(engine: Engine) -> Watchdog | None:
    """The watchdog bounding ``engine``'s connections, if it has one."""
    return _WATCHED.get(engine)


def stop_watching(engine: Engine) -> None:
    """End the watchdog thread of ``engine``, if it has one (after ``engine.dispose()``)."""
    dog = watchdog_of(engine)
    if dog is not None:
        dog.stop()


def watch(engine: Engine, bound: float) -> Watchdog:
    """Bound every statement, commit and rollback of ``engine``'s connections."""
    dog = Watchdog(bound)
    _WATCHED[engine] = dog

    @event.listens_for(engine, "before_cursor_execute")
    def before(connection, _cursor, _statement, _parameters, _context, _executemany):
        dog.arm(connection.connection.dbapi_connection)

    @event.listens_for(engine, "after_cursor_execute")
    def after(connection, _cursor, _statement, _parameters, _context, _executemany):
        dog.disarm(connection.connection.dbapi_connection)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def ending(connection):
        # Disarmed when the connection goes back to the pool (checkin) or the next statement.
        # An invalidated one (a cut statement) has no connection left to wait on.
        if not connection.invalidated:
            dog.arm(connection.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def failed(context):
        if context.connection is not None and context.connection.connection is not None:
            raw = context.connection.connection.dbapi_connection
            if raw is not None:
                dog.disarm(raw)

    @event.listens_for(engine.pool, "checkout")
    def checkout(dbapi_connection, _record, _proxy):
        dog.disarm(dbapi_connection)

    @event.listens_for(engine.pool, "checkin")
    def checkin(dbapi_connection, _record):
        if dbapi_connection is not None:
            dog.disarm(dbapi_connection)

    @event.listens_for(engine.pool, "invalidate")
    @event.listens_for(engine.pool, "soft_invalidate")
    def invalidated(dbapi_connection, _record, _exception):
        # Checked in as None afterwards: forget it now, before it is closed.
        dog.disarm(dbapi_connection)

    @event.listens_for(engine.pool, "close")
    def closed(dbapi_connection, _record):
        dog.disarm(dbapi_connection)

    @event.listens_for(engine.pool, "close_detached")
    def closed_detached(dbapi_connection):
        dog.disarm(dbapi_connection)

    @event.listens_for(engine.pool, "reset")
    def reset(dbapi_connection, _record, _state):
        # The pool's own rollback on return: bounded like any other.
        dog.arm(dbapi_connection)

    # The pool's pre-ping runs before any event fires: bound it by wrapping this engine's ping.
    # A ping is one trivial round trip: a short bound, so that the reconnection the pool tries
    # next (bounded by connect_timeout) still ends within the request's few seconds.
    ping = engine.dialect.do_ping

    def bounded_ping(dbapi_connection):
        dog.arm(dbapi_connection, PING_BOUND)
        try:
            return ping(dbapi_connection)
        finally:
            dog.disarm(dbapi_connection)

    engine.dialect.do_ping = bounded_ping
    return dog
