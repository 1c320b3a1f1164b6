"""Faults: the database goes away and comes back. Meanwhile every request that needs it gets a
503 problem with ``Retry-After`` at once, ``/readyz`` says 503 and ``/healthz`` 200; afterwards
the same app serves again without a restart."""

import os
import time

import pytest

from friendsgroup.db import get_db
from friendsgroup.migrate import upgrade
from friendsgroup.tokens import create_token
from tests.support import API, ESTABLISHED_ON, GROUP, Cluster, assert_problem, postgres_bin_dir

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# A request while the database is down must not hang: well under this many seconds.
PROMPTLY = 5


def requests_needing_the_database(auth: dict) -> dict:
    """Reads and writes of several kinds, each of which needs the database."""
    accession = {"participant": "KEN", "effective_on": "2025-06-01"}
    return {
        "list": ("GET", f"{API}/groups", {}),
        "report": ("GET", f"{API}/groups/{GROUP}/members", {}),
        "counts": ("GET", f"{API}/groups/{GROUP}/counts", {}),
        "write": ("POST", f"{API}/groups/{GROUP}/accessions", {"json": accession, "headers": auth}),
        "idempotent-write": (
            "POST",
            f"{API}/groups/{GROUP}/accessions",
            {"json": accession, "headers": {**auth, "Idempotency-Key": "during-the-outage"}},
        ),
    }


def assert_unavailable(client, auth: dict) -> None:
    """Every request needing the database is a prompt 503; the probes say what they should."""
    for name, (method, path, options) in requests_needing_the_database(auth).items():
        started = time.monotonic()
        response = client.open(path, method=method, **options)
        elapsed = time.monotonic() - started
        body = assert_problem(response, 503)
        assert body["type"] == "/problems/service-unavailable", name
        assert int(response.headers["Retry-After"]) > 0, name
        assert "Traceback" not in response.get_data(as_text=True)
        assert elapsed < PROMPTLY, (name, elapsed)
    ready = client.get("/readyz")
    assert_problem(ready, 503)
    assert "Retry-After" in ready.headers
    assert client.get("/healthz").status_code == 200


def assert_serving(client, auth: dict, participant: str) -> None:
    """Reads, a write and a write under the outage's idempotency key all succeed."""
    assert client.get("/readyz").status_code == 200
    assert client.get(f"{API}/groups").get_json()["items"][0]["slug"] == GROUP
    body = {"participant": participant, "effective_on": "2025-06-01"}
    written = client.post(f"{API}/groups/{GROUP}/accessions", json=body, headers=auth)
    assert written.status_code == 201, written.get_json()
    # The key of a request refused with 503 was not kept: the retry is processed, not replayed.
    retried = client.post(
        f"{API}/groups/{GROUP}/accessions",
        json={"participant": "KEN", "effective_on": "2025-06-01"},
        headers={**auth, "Idempotency-Key": "during-the-outage"},
    )
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    members = client.get(f"{API}/groups/{GROUP}/members").get_json()
    assert {m["code"] for m in members["members"]} == {participant, "KEN"}


def prepare(app) -> dict:
    """A token and the group, straight through the database; the authorising headers."""
    with get_db(app).transaction() as session:
        secret = create_token(session, "secretariat")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    group = {
        "slug": GROUP,
        "name": "HAIP Friends Group",
        "established_on": ESTABLISHED_ON,
        "member_kinds": ["country", "region"],
    }
    assert client.post(f"{API}/groups", json=group, headers=auth).status_code == 201
    return auth


def test_sqlite_file_unreachable_then_created(make_app, tmp_path):
    """SQLite's kind of outage: the database file cannot be opened (its directory is missing)."""
    directory = tmp_path / "not-yet"
    url = f"sqlite:///{directory / 'registry.sqlite3'}"
    app = make_app(DATABASE_URL=url, TESTING=True, RETRY_AFTER_SECONDS=7)
    client = app.test_client()
    auth = {"Authorization": "Bearer fg_not-checked-while-down"}

    assert_unavailable(client, auth)
    assert client.get(f"{API}/groups").headers["Retry-After"] == "7"

    directory.mkdir()
    upgrade(url)
    assert_serving(client, prepare(app), "FRA")


def _worker_offset() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


@pytest.fixture
def cluster():
    """A PostgreSQL cluster of this test's own, started; removed afterwards."""
    if not (TEST_DATABASE_URL or "").startswith("postgresql"):
        pytest.skip(
            "stopping PostgreSQL applies when the suite targets it (TEST_DATABASE_URL); "
            "on SQLite the unreachable-file outage above runs instead"
        )
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("initdb is not installed: no throwaway PostgreSQL cluster can be made")
    made = Cluster(bin_dir, 55432 + _worker_offset())
    try:
        made.init()
        made.start()
        yield made
    finally:
        made.destroy()


def test_postgresql_stopped_then_started(make_app, cluster):
    upgrade(cluster.url)
    app = make_app(DATABASE_URL=cluster.url, TESTING=True, DB_CONNECT_TIMEOUT=1)
    auth = prepare(app)
    client = app.test_client()
    # Warm the pool, so that the outage finds connections to discard, not just none to make.
    for _ in range(3):
        assert client.get(f"{API}/groups/{GROUP}/members").status_code == 200

    cluster.stop()
    assert_unavailable(client, auth)
    assert_unavailable(client, auth)

    cluster.start()
    assert_serving(client, auth, "FRA")


def test_postgresql_restarted_between_requests(make_app, cluster):
    """A restart nobody saw: the pooled connections are dead, the first request must not fail."""
    upgrade(cluster.url)
    app = make_app(DATABASE_URL=cluster.url, TESTING=True, DB_CONNECT_TIMEOUT=1)
    auth = prepare(app)
    client = app.test_client()
    for _ in range(3):
        assert client.get(f"{API}/groups/{GROUP}/members").status_code == 200

    cluster.stop()
    cluster.start()
    assert client.get(f"{API}/groups/{GROUP}/members").status_code == 200
    body = {"participant": "FRA", "effective_on": "2025-06-01"}
    written = client.post(f"{API}/groups/{GROUP}/accessions", json=body, headers=auth)
    assert written.status_code == 201, written.get_json()
