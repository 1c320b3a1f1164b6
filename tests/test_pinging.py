"""The pool skips the pre-ping only for a connection just returned whose socket is quiet: one
the server ended is pinged and replaced, and so is one idle for longer. First on a socket pair
standing in for a connection (any database), then on PostgreSQL's own."""

import os
import socket
import time

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from friendsgroup.db import Bounds, make_engine
from friendsgroup.pinging import RECENT, _quiet, skip_recent_pings

from .support import PgConn, StandIn

URL = os.environ.get("TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="a real PostgreSQL connection is needed"
)


@pytest.fixture
def pair():
    ours, server = socket.socketpair()
    yield StandIn(PgConn(ours.fileno())), server
    ours.close()
    server.close()


def test_a_socket_with_nothing_to_read_is_quiet(pair):
    stand_in, _server = pair
    assert _quiet(stand_in)


def test_a_socket_the_server_wrote_to_is_not_quiet(pair):
    stand_in, server = pair
    server.sendall(b"E")  # what a backend sends before it ends a connection: an error
    assert not _quiet(stand_in)


def test_a_socket_the_server_closed_is_not_quiet(pair):
    stand_in, server = pair
    server.close()
    assert not _quiet(stand_in)


def test_a_closed_or_broken_connection_is_not_quiet(pair):
    stand_in, _server = pair
    assert not _quiet(StandIn(stand_in.pgconn, closed=True))
    assert not _quiet(StandIn(stand_in.pgconn, broken=True))
    assert not _quiet(object())  # no socket at all


@pytest.fixture
def pings(monkeypatch):
    """The round-trip pings PostgreSQL's dialect sends, counted."""
    sent = []
    real = PGDialect_psycopg.do_ping

    def counted(self, dbapi_connection):
        sent.append(dbapi_connection)
        return real(self, dbapi_connection)

    monkeypatch.setattr(PGDialect_psycopg, "do_ping", counted)
    return sent


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


@needs_postgres
def test_the_service_engine_pings_only_a_connection_idle_for_a_while(pings):
    engine = make_engine(URL, pool_size=1, bounds=Bounds())
    try:
        first = backend_pid(engine)  # a fresh connection is never pinged
        assert backend_pid(engine) == first
        assert backend_pid(engine) == first
        assert pings == []  # returned moments ago, its socket quiet
        time.sleep(RECENT + 0.1)
        assert backend_pid(engine) == first
        assert len(pings) == 1
    finally:
        engine.dispose()


@needs_postgres
def test_a_connection_the_server_ended_moments_ago_is_pinged_and_replaced(pings):
    # A long window: the ended connection is caught by its socket, not by its age.
    engine = create_engine(URL, pool_size=1, pool_pre_ping=True)
    skip_recent_pings(engine, recent=60)
    try:
        ended = backend_pid(engine)
        with psycopg.connect(
            make_url(URL).set(drivername="postgresql").render_as_string(False)
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [ended])
            for _ in range(100):  # until the backend has gone, and with it its socket's end
                gone = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [ended])
                if gone.fetchone() is None:
                    break
                time.sleep(0.02)
        replaced = backend_pid(engine)  # answers: the dead connection never reached a request
        assert replaced != ended
        assert len(pings) == 1
    finally:
        engine.dispose()
