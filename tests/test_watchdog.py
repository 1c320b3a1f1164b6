"""The watchdog cuts only the connection that waits too long: never one that was closed
meanwhile, nor a new connection that took the closed one's socket number."""

import os
import threading
import time

import psycopg
import pytest
from sqlalchemy import make_url, text

from friendsgroup.db import Bounds, Database, make_engine
from friendsgroup.watchdog import CHECK_EVERY, Watchdog

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="the watchdog guards PostgreSQL connections"
)
BOUND = 0.3


def connect() -> psycopg.Connection:
    url = make_url(URL)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )


def past_the_bound() -> None:
    time.sleep(BOUND + 3 * CHECK_EVERY)


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


def watchdog_threads() -> int:
    return sum(thread.name == "db-watchdog" for thread in threading.enumerate())


def test_disposing_of_a_database_ends_its_watchdog_thread_until_the_next_use():
    before = watchdog_threads()
    database = Database(URL, bounds=Bounds(statement=BOUND))
    with database.transaction(write=False) as session:
        session.execute(text("SELECT 1"))
    assert watchdog_threads() == before + 1
    database.dispose()
    time.sleep(2 * CHECK_EVERY)
    assert watchdog_threads() == before
    with database.transaction(write=False) as session:  # used again: watched again
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert watchdog_threads() == before + 1
    database.dispose()
