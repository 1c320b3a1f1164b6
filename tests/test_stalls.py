"""A stalled database, a held lock, slow clients and a restart mid-write, against a real server
and a throwaway PostgreSQL: every wait is bounded, /healthz always answers, nothing is a 500."""

import os
import signal
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests

from friendsgroup import create_app
from friendsgroup.db import get_db
from friendsgroup.migrate import upgrade
from friendsgroup.tokens import create_token
from tests.support import API, FRIENDS, Cluster, free_port, postgres_bin_dir, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin_dir() is None, reason="needs PostgreSQL's initdb"),
]
# The promised bounds: a request needing the database answers within BOUND seconds; a probe
# within PROBE. They are the clients' timeouts: a slower answer fails the test.
BOUND = 5
PROBE = 1


@pytest.fixture(scope="module")
def cluster():
    made = Cluster(postgres_bin_dir(), free_port())
    made.init()
    made.start()
    upgrade(made.url)
    yield made
    made.destroy()


@pytest.fixture(scope="module")
def world(cluster):
    """A token and the Friends Group, written straight through an app."""
    app = create_app({"DATABASE_URL": cluster.url})
    with get_db(app).transaction() as session:
        secret = create_token(session, "stalls")
    auth = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().post(f"{API}/groups", json=FRIENDS, headers=auth).status_code == 201
    get_db(app).dispose()
    return auth


@contextmanager
def clean_server(cluster, tmp_path, workers: int):
    """A running server whose log, once it stopped, holds no traceback and no 500."""
    with running_server(cluster.url, tmp_path, workers=workers) as running:
        yield running
    log = running.log()
    assert "Traceback" not in log and '" 500 ' not in log, log[-3000:]


@pytest.fixture
def server(cluster, world, tmp_path):
    with clean_server(cluster, tmp_path, workers=2) as running:
        yield running


@pytest.fixture
def one_worker(cluster, world, tmp_path):
    """One process, so that every queued write meets the same pool."""
    with clean_server(cluster, tmp_path, workers=1) as running:
        yield running


def accession(code: str, on: str = "2025-06-01") -> dict:
    return {"participant": code, "effective_on": on}


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["type"] == "/problems/service-unavailable"


def postgres_processes(cluster) -> list[int]:
    """The postmaster and every process it started."""
    postmaster = int((Path(cluster.data) / "postmaster.pid").read_text().split()[0])
    listed = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True, check=True
    )
    children = [int(pid) for pid in listed.stdout.split()]
    return [postmaster, *children]


def signal_all(pids: list[int], number: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def test_a_frozen_database_gives_prompt_503s_and_healthz_stays_up(cluster, world, server):
    url = server.url
    assert requests.get(f"{url}{API}/groups", timeout=BOUND).status_code == 200
    frozen = postgres_processes(cluster)
    signal_all(frozen, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(8) as pool:
            reads = [pool.submit(requests.get, f"{url}{API}/groups/friends/members", timeout=BOUND)]
            reads.append(pool.submit(requests.get, f"{url}{API}/groups", timeout=BOUND))
            write = pool.submit(
                requests.post,
                f"{url}{API}/groups/friends/accessions",
                json=accession("KEN"),
                headers=world,
                timeout=BOUND,
            )
            ready = pool.submit(requests.get, f"{url}/readyz", timeout=BOUND)
            for _ in range(5):
                assert requests.get(f"{url}/healthz", timeout=PROBE).status_code == 200
            for future in [*reads, write, ready]:
                assert_unavailable(future.result())
    finally:
        signal_all(frozen, signal.SIGCONT)
    # Thawed: the same process serves again (its cut connections were discarded).
    assert requests.get(f"{url}/readyz", timeout=BOUND).status_code == 200
    written = requests.post(
        f"{url}{API}/groups/friends/accessions",
        json=accession("KEN"),
        headers=world,
        timeout=BOUND,
    )
    assert written.status_code == 201, written.text


def lock_participant(cluster, code: str) -> psycopg.Connection:
    """Another client's transaction holding the participant's row lock."""
    connection = psycopg.connect(
        f"host={cluster.socket_dir} port={cluster.port} user=postgres dbname=postgres"
    )
    connection.execute(
        "INSERT INTO participants (code, name, kind, created_at) "
        "VALUES (%s, %s, 'country', now()) ON CONFLICT DO NOTHING",
        (code, code),
    )
    connection.commit()
    connection.execute("SELECT id FROM participants WHERE code = %s FOR UPDATE", (code,))
    return connection


def test_a_held_lock_gives_queued_writes_503_while_reads_stay_fast(cluster, world, one_worker):
    # Ten writes wait on the lock in one process of a pool of 5 + 5 connections: only five hold
    # one (the write slots); the overflow serves the reads.
    url = one_worker.url
    holder = lock_participant(cluster, "FRA")
    try:
        with ThreadPoolExecutor(10) as pool:
            writes = [
                pool.submit(
                    requests.post,
                    f"{url}{API}/groups/friends/accessions",
                    json=accession("FRA"),
                    headers=world,
                    timeout=BOUND,
                )
                for _ in range(10)
            ]
            for _ in range(5):
                assert requests.get(f"{url}/healthz", timeout=PROBE).status_code == 200
                groups = requests.get(f"{url}{API}/groups", timeout=PROBE)
                assert groups.status_code == 200
            for future in writes:
                assert_unavailable(future.result())
    finally:
        holder.close()
    written = requests.post(
        f"{url}{API}/groups/friends/accessions", json=accession("FRA"), headers=world, timeout=5
    )
    assert written.status_code == 201, written.text


def test_twelve_slow_clients_do_not_stop_healthz(server):
    host, port = server.url.removeprefix("http://").split(":")
    stalled = []
    try:
        for _ in range(12):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(
                b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"slug": '
            )
            stalled.append(client)
        for _ in range(9):
            assert requests.get(f"{server.url}/healthz", timeout=PROBE).status_code == 200
    finally:
        for client in stalled:
            client.close()


def test_a_restart_mid_write_is_503_and_the_key_can_be_retried_at_once(cluster, world, server):
    url = server.url
    headers = {**world, "Idempotency-Key": "restart-mid-write"}
    holder = lock_participant(cluster, "DEU")
    answer = {}

    def write():
        answer["response"] = requests.post(
            f"{url}{API}/groups/friends/accessions",
            json=accession("DEU"),
            headers=headers,
            timeout=BOUND + 5,
        )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # The write is waiting on the lock, its claim committed, when the server restarts.
        threading.Event().wait(0.7)
        cluster.stop()
        cluster.start()
    finally:
        holder.close()
    writer.join()
    assert_unavailable(answer["response"])
    retried = requests.post(
        f"{url}{API}/groups/friends/accessions", json=accession("DEU"), headers=headers, timeout=5
    )
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
