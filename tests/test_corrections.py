"""Corrections, field by field: copied, replaced, cleared; sources replaced or added; who."""

import pytest

from tests.support import (
    INSTRUMENT_BODY,
    SOURCE,
    accede,
    assert_problem,
    create_group,
    row_counts,
)

OTHER = {"url": "https://example.org/press/2", "title": "Second", "reliability": "reported"}
STORED = {"publisher": None, "published_on": None}


def correct(client, auth, event_id, body):
    return client.post(f"/api/v1/events/{event_id}/correction", json=body, headers=auth)


@pytest.fixture
def uncertain(client, auth):
    """Kenya with a window and a stale note, on one source."""
    create_group(client, auth)
    response = accede(
        client,
        auth,
        "KEN",
        "2025-06-01",
        earliest_on="2024-05-02",
        note="Join date unknown: joined between 2024-05-02 and 2025-06-01.",
        sources=[SOURCE],
    )
    assert response.status_code == 201
    return response.json


def test_null_clears_the_window_and_the_stale_note(client, auth, uncertain):
    fixed = correct(
        client,
        auth,
        uncertain["id"],
        {"reason": "dated", "effective_on": "2024-09-10", "earliest_on": None, "note": None},
    )
    assert fixed.status_code == 201, fixed.json
    assert fixed.json["earliest_on"] is None and fixed.json["note"] is None
    assert fixed.json["effective_on"] == "2024-09-10"
    # Omitted: copied.
    assert fixed.json["sources"] == [{**SOURCE, **STORED}]


def test_omitted_fields_are_copied(client, auth, uncertain):
    fixed = correct(client, auth, uncertain["id"], {"reason": "r", "effective_on": "2025-05-01"})
    assert fixed.status_code == 201
    assert fixed.json["earliest_on"] == "2024-05-02"
    assert fixed.json["note"] == uncertain["note"]


def test_sources_replace_and_add_sources_append(client, auth, uncertain):
    added = correct(client, auth, uncertain["id"], {"reason": "r", "add_sources": [OTHER]})
    assert added.status_code == 201, added.json
    assert [s["url"] for s in added.json["sources"]] == [SOURCE["url"], OTHER["url"]]
    replaced = correct(client, auth, added.json["id"], {"reason": "r", "sources": [OTHER]})
    assert [s["url"] for s in replaced.json["sources"]] == [OTHER["url"]]
    both = correct(
        client, auth, replaced.json["id"], {"reason": "r", "sources": [], "add_sources": [SOURCE]}
    )
    assert [s["url"] for s in both.json["sources"]] == [SOURCE["url"]]


def test_a_correction_that_changes_nothing_is_422(client, auth, session, uncertain):
    before = row_counts(session)
    for body in (
        {"reason": "r"},
        {"reason": "r", "effective_on": "2025-06-01", "note": uncertain["note"]},
        {"reason": "r", "sources": [SOURCE]},
        {"reason": "r", "earliest_on": "2024-05-02"},
    ):
        assert_problem(correct(client, auth, uncertain["id"], body), 422, field="body")
    too_many = correct(client, auth, uncertain["id"], {"reason": "r", "add_sources": [OTHER] * 20})
    assert_problem(too_many, 422, field="add_sources")
    assert row_counts(session) == before
    assert client.get(f"/api/v1/events/{uncertain['id']}").json["retracted_at"] is None


def test_who_retracted_and_who_corrected_is_recorded(client, auth, uncertain):
    fixed = correct(client, auth, uncertain["id"], {"reason": "r", "note": "dated"}).json
    old = client.get(f"/api/v1/events/{uncertain['id']}").json
    assert old["retracted_by"] == "secretariat" and old["superseded_by"] == fixed["id"]
    assert fixed["retracted_by"] is None
    gone = client.post(
        f"/api/v1/events/{fixed['id']}/retraction", json={"reason": "wrong"}, headers=auth
    )
    assert gone.status_code == 200
    assert gone.json["retracted_by"] == "secretariat"


def test_a_commitments_provisions_are_copied_unless_given(client, auth):
    assert client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth).status_code == 201
    committed = client.post(
        "/api/v1/instruments/code/commitments",
        json={"participant": "JPN", "effective_on": "2024-02-07", "provisions": [1, 2]},
        headers=auth,
    ).json
    dated = correct(client, auth, committed["id"], {"reason": "r", "effective_on": "2024-02-08"})
    assert dated.json["provisions"] == [1, 2]
    everything = correct(client, auth, dated.json["id"], {"reason": "r", "provisions": None})
    assert everything.status_code == 201 and everything.json["provisions"] is None


@pytest.mark.parametrize("limit", [1, 2, 100])
def test_event_lists_page_a_day_in_its_places(client, auth, limit):
    """A correction keeps its event's place among the events of its day in every list, page
    after page, as the rules read the day: the accession, its correction, the withdrawal."""
    create_group(client, auth)
    joined = accede(client, auth, "JPN", "2024-05-02").get_json()
    left = client.post(
        "/api/v1/groups/friends/withdrawals",
        json={"participant": "JPN", "effective_on": "2024-05-02"},
        headers=auth,
    ).get_json()
    fixed = correct(client, auth, joined["id"], {"reason": "wording", "note": "same day"})
    assert fixed.status_code == 201, fixed.get_json()
    later = accede(client, auth, "JPN", "2024-06-01").get_json()
    expected = [joined["id"], fixed.get_json()["id"], left["id"], later["id"]]
    for path in ("/api/v1/participants/JPN/events", "/api/v1/groups/friends/events"):
        listed, url = [], f"{path}?include_retracted=true&limit={limit}"
        while url:
            page = client.get(url).get_json()
            listed += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            url = f"{path}?include_retracted=true&limit={limit}&cursor={cursor}" if cursor else None
        assert listed == expected, path
