"""The rules hold under simultaneous requests (real threads, each with its own connection)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from friendsgroup.models import Event, Participant
from tests.support import create_group


def run_together(app, count: int, send):
    """Call ``send(client)`` from ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def one(_):
        client = app.test_client()
        barrier.wait()
        return send(client)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_identical_accessions_yield_one_201(app, client, auth, session):
    create_group(client, auth)
    body = {"participant": "KEN", "effective_on": "2025-06-01"}
    statuses = run_together(
        app,
        16,
        lambda c: c.post("/api/v1/groups/friends/accessions", json=body, headers=auth).status_code,
    )
    assert sorted(statuses) == [201] + [409] * 15
    assert session.scalar(select(func.count()).select_from(Event)) == 1
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_parallel_withdrawals_of_one_member_yield_one_201(app, client, auth, session):
    create_group(client, auth)
    client.post(
        "/api/v1/groups/friends/accessions",
        json={"participant": "JPN", "effective_on": "2024-05-02"},
        headers=auth,
    )
    statuses = run_together(
        app,
        8,
        lambda c: (
            c.post(
                "/api/v1/groups/friends/withdrawals",
                json={"participant": "JPN", "effective_on": "2025-01-01"},
                headers=auth,
            ).status_code
        ),
    )
    assert sorted(statuses) == [201] + [409] * 7
    assert session.scalar(select(func.count()).select_from(Event)) == 2


def test_parallel_first_use_of_many_countries(app, client, auth, session):
    create_group(client, auth)
    codes = ["KEN", "JPN", "FRA", "DEU", "USA", "CAN", "GBR", "ITA"]
    counter = iter(range(len(codes)))
    lock = threading.Lock()

    def send(c):
        with lock:
            code = codes[next(counter)]
        body = {"participant": code, "effective_on": "2024-06-01"}
        return c.post("/api/v1/groups/friends/accessions", json=body, headers=auth).status_code

    assert run_together(app, len(codes), send) == [201] * len(codes)
    assert session.scalar(select(func.count()).select_from(Participant)) == len(codes)
