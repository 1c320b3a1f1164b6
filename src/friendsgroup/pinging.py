"""The pool's pre-ping, without its round trip for a connection that was just in use.

A pre-ping costs a round trip on every checkout: on a busy server that is every request, and
a tenth of a report's time. A connection returned to the pool moments ago, whose socket has
nothing to say, is alive: a server that ended it (a restart, ``pg_terminate_backend``, a
crash of its backend) has sent an error and closed the socket, which makes the socket
readable. Such a connection, and any connection idle for longer than ``RECENT``, is pinged as
before. (A pool keeping the same rule: HikariCP's ``aliveBypassWindowMs``, 500 ms by default.)

A server that froze in those moments answers no ping either: the first statement waits
instead, and the watchdog bounds that wait.
"""

import select
import time
import weakref

from sqlalchemy import Engine, event

RECENT = 0.5  # seconds since a connection was returned within which its ping may be skipped


def skip_recent_pings(engine: Engine, recent: float = RECENT) -> None:
    """Ping on checkout only connections idle longer than ``recent`` or with unread input."""
    returned: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @event.listens_for(engine.pool, "checkin")
    def checkin(dbapi_connection, _record):
        if dbapi_connection is not None:
            returned[dbapi_connection] = time.monotonic()

    ping = engine.dialect.do_ping

    def ping_unless_recent(dbapi_connection):
        at = returned.pop(dbapi_connection, None)
        if at is not None and time.monotonic() - at < recent and _quiet(dbapi_connection):
            return True
        return ping(dbapi_connection)

    engine.dialect.do_ping = ping_unless_recent


def _quiet(dbapi_connection) -> bool:
    """True when a psycopg connection is open, idle, and its socket has nothing to read."""
    try:
        if dbapi_connection.closed or dbapi_connection.broken:
            return False
        fd = dbapi_connection.pgconn.socket
    except Exception:  # no socket: not a connection to trust without a ping
        return False
    readable, _, failed = select.select([fd], [], [fd], 0)
    return not readable and not failed
