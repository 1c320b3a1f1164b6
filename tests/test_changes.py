"""The change log: every fact and registration logged with its write, served once by cursor."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pycountry
import pytest
from sqlalchemy import select

from friendsgroup.db import get_db
from friendsgroup.history import record_event
from friendsgroup.models import Change, Group
from tests.support import (
    FRIENDS,
    INSTRUMENT_BODY,
    SOURCE,
    accede,
    assert_problem,
    create_group,
    row_counts,
)

CHANGES = "/api/v1/changes"


def sync(client, cursor: str | None = None, **params) -> tuple[list[dict], str]:
    """Every change past ``cursor``, following pages, and the cursor to keep."""
    seen = []
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        response = client.get(CHANGES, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        assert cursor
        if "Link" not in response.headers:
            return seen, cursor


def test_writes_log_changes_with_the_resource_as_it_is_now(client, auth):
    create_group(client, auth)
    client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth)
    event = accede(client, auth, "KEN", "2025-06-01", sources=[SOURCE]).get_json()
    client.post(
        f"/api/v1/events/{event['id']}/retraction", json={"reason": "wrong day"}, headers=auth
    )
    items, _ = sync(client)
    assert [item["type"] for item in items] == [
        "group.registered",
        "instrument.registered",
        "event.recorded",
        "event.retracted",
    ]
    recorded = items[2]
    assert recorded["summary"] == ("Kenya joined the Friends Group on 2025-06-01 — official source")
    assert recorded["recorded_by"] == "secretariat"
    assert (recorded["group"], recorded["participant"]) == ("friends", "KEN")
    # The resource as it is now: the retraction shows on the recorded event too.
    assert recorded["resource"]["retracted_at"] is not None
    assert recorded["links"] == {
        "json": f"/api/v1/events/{event['id']}",
        "page": "/participants/KEN",
    }
    assert items[3]["summary"].startswith("Retracted: Kenya joined")


def test_corrections_and_announcements_are_logged(client, auth):
    create_group(client, auth)
    event = accede(client, auth, "KEN", "2025-06-01").get_json()
    client.post(
        f"/api/v1/events/{event['id']}/correction",
        json={"effective_on": "2025-06-02", "reason": "typo"},
        headers=auth,
    )
    client.post(
        "/api/v1/groups/friends/announcements",
        json={"as_of": "2025-07-01", "count": 1, "source": SOURCE},
        headers=auth,
    )
    items, _ = sync(client, type="event.corrected")
    assert len(items) == 1 and items[0]["resource"]["supersedes"] == event["id"]
    items, _ = sync(client, type="announcement.recorded")
    assert items[0]["summary"] == (
        "Friends Group: 1 members announced as of 2025-07-01 — official source"
    )


def test_a_refused_write_logs_nothing(client, auth, session):
    create_group(client, auth)
    accede(client, auth, "KEN", "2025-06-01")
    before = row_counts(session)
    assert_problem(accede(client, auth, "KEN", "2025-07-01"), 409, "already-member")
    assert row_counts(session) == before


def test_filters_and_a_stored_cursor(client, auth):
    create_group(client, auth)
    create_group(client, auth, slug="other", name="Other")
    accede(client, auth, "KEN", "2025-06-01")
    accede(client, auth, "JPN", "2025-06-01", group="other")
    items, cursor = sync(client, group="friends")
    assert [i["type"] for i in items] == ["group.registered", "event.recorded"]
    assert [i["participant"] for i in sync(client, participant="jp")[0]] == ["JPN"]
    accede(client, auth, "FRA", "2025-06-01")
    later, cursor = sync(client, cursor, group="friends")
    assert [i["participant"] for i in later] == ["FRA"]
    assert sync(client, cursor)[0] == []
    assert sync(client, since="2999-01-01T00:00:00Z")[0] == []


def test_bad_parameters_are_named(client, auth):
    assert_problem(client.get(CHANGES, query_string={"group": "nope"}), 422, field="group")
    assert_problem(client.get(CHANGES, query_string={"type": "event.eaten"}), 422, field="type")
    assert_problem(client.get(CHANGES, query_string={"cursor": "x!"}), 422, field="cursor")
    assert_problem(client.get(CHANGES, query_string={"since": "soon"}), 422, field="since")


def test_event_lists_filter_on_recording_time(client, auth):
    create_group(client, auth)
    first = accede(client, auth, "KEN", "2025-06-01").get_json()
    second = accede(client, auth, "JPN", "2025-06-01").get_json()
    path = "/api/v1/groups/friends/events"
    since = client.get(path, query_string={"recorded_since": second["recorded_at"]}).get_json()
    until = client.get(path, query_string={"recorded_until": second["recorded_at"]}).get_json()
    assert [e["id"] for e in since["items"]] == [second["id"]]
    assert [e["id"] for e in until["items"]] == [first["id"]]
    assert_problem(
        client.get(path, query_string={"recorded_since": "x"}), 422, field="recorded_since"
    )


def test_seeds_and_imports_are_logged(app, runner, session):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    changes = session.scalars(select(Change)).all()
    events = [c for c in changes if c.type == "event.recorded"]
    assert events and all(c.event_id is not None for c in events)
    assert len({c.event_id for c in events}) == len(events)
    assert {c.type for c in changes} >= {"group.registered", "instrument.registered"}


COUNTRIES = [c.alpha_3 for c in pycountry.countries][:160]
WRITERS = 8


def test_a_syncing_client_sees_every_change_once_while_eight_writers_record(app, client, auth):
    create_group(client, auth)
    done = threading.Event()
    seen: list[int] = []
    cursor = None

    def reader():
        nonlocal cursor
        reader_client = app.test_client()
        while not done.is_set():
            items, cursor = sync(reader_client, cursor)
            seen.extend(item["id"] for item in items)

    def writer(n: int):
        writer_client = app.test_client()
        for code in COUNTRIES[n::WRITERS]:
            # A 503 (the database busy past its bound on a loaded machine) wrote nothing and
            # says to retry; the sync must be exact whatever the writers went through.
            for _ in range(5):
                status = accede(writer_client, auth, code, "2025-06-01").status_code
                if status != 503:
                    break
                time.sleep(0.2)
            assert status == 201

    follower = threading.Thread(target=reader)
    follower.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    done.set()
    follower.join()
    items, cursor = sync(client, cursor)
    seen.extend(item["id"] for item in items)
    with get_db(app).transaction(write=False) as s:
        stored = list(s.scalars(select(Change.id)))
    assert len(seen) == len(set(seen)), "a change was served twice"
    assert sorted(seen) == sorted(stored)
    assert len(stored) == 1 + len(COUNTRIES)


def test_a_change_committed_behind_a_running_transaction_waits_for_it(app, client, auth):
    """PostgreSQL: a lower id still uncommitted holds back the higher ids committed after it."""
    database = get_db(app)
    if database.is_sqlite:
        pytest.skip("SQLite writers are serialised: id order is commit order")
    create_group(client, auth)
    _, cursor = sync(client)
    slow = database.session(write=True)
    group = slow.scalars(select(Group).where(Group.slug == FRIENDS["slug"])).one()
    early = record_event(slow, group, "accession", _body("KEN"), "slow")  # takes the lower id
    late = accede(client, auth, "JPN", "2025-06-01")  # commits first, with a higher id
    assert late.status_code == 201
    held, held_cursor = sync(client, cursor)
    assert held == [] and held_cursor == cursor
    slow.commit()
    slow.close()
    items, _ = sync(client, cursor)
    assert {i["resource"]["id"] for i in items} == {early.id, late.get_json()["id"]}


def _body(code: str) -> dict:
    from datetime import date

    return {"participant": code, "effective_on": date(2025, 6, 1)}
