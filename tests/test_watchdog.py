"""The watchdog cuts only the connection that waits too long: never one that was closed
meanwhile, nor a new connection that took the closed one's socket number. First on a socket
pair standing in for a connection (any database), then on PostgreSQL's own."""

import os
import socket
import threading
import time

import psycopg
import pytest
from sqlalchemy import make_url, text

from friendsgroup.db import Bounds, Database, make_engine
from friendsgroup.watchdog import CHECK_EVERY, Watchdog, watchdog_of

from .support import PgConn, StandIn

URL = os.environ.get("TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="a real PostgreSQL connection is needed"
)
BOUND = 0.3


@pytest.fixture
def stand_in():
    ours, server = socket.socketpair()
    server.settimeout(2 * CHECK_EVERY)
    yield StandIn(PgConn(ours.fileno()), ends=(ours, server))
    ours.close()
    server.close()


@pytest.fixture
def dog():
    watching = Watchdog(BOUND)
    yield watching
    watching.stop()


def was_cut(stand_in: StandIn) -> bool:
    """True when the server's end reads the end of the stream (the watchdog shut ours)."""
    try:
        return stand_in.ends[1].recv(1) == b""
    except TimeoutError:
        return False


def threads_named(name: str) -> int:
    return sum(thread.name == name for thread in threading.enumerate())


def test_a_wait_past_its_bound_is_cut(dog, stand_in):
    dog.arm(stand_in)
    past_the_bound()
    assert was_cut(stand_in)


def test_an_answered_wait_is_left_alone(dog, stand_in):
    dog.arm(stand_in)
    dog.disarm(stand_in)
    past_the_bound()
    assert not was_cut(stand_in)


def test_a_connection_closed_or_moved_to_another_socket_is_left_alone(dog, stand_in):
    dog.arm(stand_in)
    stand_in.closed = True
    past_the_bound()
    assert not was_cut(stand_in)
    stand_in.closed = False
    dog.arm(stand_in)
    stand_in.pgconn = PgConn(-1)  # reconnected: its old number is someone else's now
    past_the_bound()
    assert not was_cut(stand_in)


def test_stopping_ends_the_thread_and_forgets_every_wait(dog, stand_in):
    # Counted by this watchdog's own name: other tests' watchdogs may be ending meanwhile.
    assert threads_named(dog.thread_name) == 0
    dog.arm(stand_in)
    assert threads_named(dog.thread_name) == 1
    dog.stop()
    past_the_bound()
    assert threads_named(dog.thread_name) == 0
    assert not was_cut(stand_in)


def connect() -> psycopg.Connection:
    url = make_url(URL)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )


def past_the_bound() -> None:
    time.sleep(BOUND + 3 * CHECK_EVERY)


@needs_postgres
def test_a_connection_closed_while_armed_spares_the_one_that_reuses_its_socket():
    dog = Watchdog(BOUND)
    first = connect()
    fd = first.pgconn.socket
    dog.arm(first)
    first.close()  # never disarmed, as when a pool discards a connection mid-wait
    second = connect()
    try:
        assert second.pgconn.socket == fd  # the lowest free descriptor: the same number
        past_the_bound()
        assert second.execute("SELECT 1").fetchone() == (1,)
    finally:
        second.close()


@needs_postgres
def test_a_connection_waiting_past_the_bound_is_cut():
    dog = Watchdog(BOUND)
    waiting = connect()
    try:
        dog.arm(waiting)
        past_the_bound()
        with pytest.raises(psycopg.OperationalError):
            waiting.execute("SELECT 1")
    finally:
        waiting.close()


@needs_postgres
def test_an_invalidated_pooled_connection_is_forgotten():
    engine = make_engine(URL, bounds=Bounds(statement=BOUND))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.commit()  # armed until the connection is checked in
            connection.invalidate()  # as on a disconnect: checked in as None, then closed
        with engine.connect() as fresh:
            past_the_bound()
            assert fresh.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


@needs_postgres
def test_disposing_of_a_database_ends_its_watchdog_thread_until_the_next_use():
    database = Database(URL, bounds=Bounds(statement=BOUND))
    name = watchdog_of(database.engine).thread_name
    with database.transaction(write=False) as session:
        session.execute(text("SELECT 1"))
    assert threads_named(name) == 1
    database.dispose()
    time.sleep(2 * CHECK_EVERY)
    assert threads_named(name) == 0
    with database.transaction(write=False) as session:  # used again: watched again
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert threads_named(name) == 1
    database.dispose()
