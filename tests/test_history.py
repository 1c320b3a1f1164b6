"""The rules of history through the API: alternation, back-dating, corrections, time travel."""

from datetime import timedelta

import pytest

from friendsgroup.timeutil import today
from tests.support import (
    INSTRUMENT_BODY,
    SOURCE,
    accede,
    assert_problem,
    create_group,
    row_counts,
    withdraw,
)


def members(client, as_of, known_at=None):
    """Codes of the members on ``as_of`` as known at ``known_at``."""
    query = f"as_of={as_of}" + (f"&known_at={known_at}" if known_at else "")
    report = client.get(f"/api/v1/groups/friends/members?{query}").json
    return [m["code"] for m in report["members"]]


def periods(client, code, known_at=None):
    """(since, until) periods of a participant in the Friends Group."""
    query = f"?known_at={known_at}" if known_at else ""
    body = client.get(f"/api/v1/participants/{code}{query}").json
    return [
        (p["since"], p["until"])
        for m in body["memberships"]
        if m["group"] == "friends"
        for p in m["periods"]
    ]


def test_a_realistic_history(client, auth, session):
    create_group(client, auth)
    joined = accede(client, auth, "KE", "2024-06-01", sources=[SOURCE], note="joined")
    assert joined.status_code == 201
    first = joined.json
    assert first["participant"] == {"code": "KEN", "name": "Kenya", "kind": "country"}
    assert first["type"] == "accession" and first["group"] == "friends"
    assert first["instrument"] is None and first["supersedes"] is None
    assert first["sources"] == [{**SOURCE, "publisher": None, "published_on": None}]
    assert first["recorded_by"] == "secretariat" and first["recorded_at"].endswith("Z")
    assert joined.headers["Location"] == f"/api/v1/events/{first['id']}"
    left = withdraw(client, auth, "KEN", "2025-01-15")
    assert left.status_code == 201
    rejoined = accede(client, auth, "ken", "2025-06-01")
    assert rejoined.status_code == 201
    after_rejoin = rejoined.json["recorded_at"]

    # An accession inside a membership period, or back-dated into the gap before a rejoin.
    before = row_counts(session)
    body = assert_problem(accede(client, auth, "KEN", "2024-09-01"), 409, "already-member")
    assert "KEN" in body["detail"] and "2024-06-01" in body["detail"]
    assert_problem(accede(client, auth, "KEN", "2025-03-01"), 409, "history-conflict")
    assert_problem(withdraw(client, auth, "DEU", "2025-03-01"), 409, "not-a-member")
    assert_problem(withdraw(client, auth, "KEN", "2025-03-01"), 409, "not-a-member")
    # Retracting the first accession would leave the withdrawal without a membership.
    assert_problem(
        client.post(f"/api/v1/events/{first['id']}/retraction", json={"reason": "x"}, headers=auth),
        409,
        "history-conflict",
    )
    assert row_counts(session) == before

    # Japan recorded with a wrong date, then corrected.
    wrong = accede(client, auth, "JPN", "2024-05-20").json
    corrected = client.post(
        f"/api/v1/events/{wrong['id']}/correction",
        json={"reason": "launch member: joined at the launch", "effective_on": "2024-05-02"},
        headers=auth,
    )
    assert corrected.status_code == 201
    replacement = corrected.json
    assert replacement["supersedes"] == wrong["id"]
    assert replacement["effective_on"] == "2024-05-02"
    old = client.get(f"/api/v1/events/{wrong['id']}").json
    assert old["superseded_by"] == replacement["id"]
    assert old["retraction_reason"] == "launch member: joined at the launch"
    assert old["retracted_at"] == replacement["recorded_at"]
    after_correction = replacement["recorded_at"]

    # France recorded, then retracted; retracting twice or correcting it is refused.
    france = accede(client, auth, "FRA", "2024-07-01").json
    retracted = client.post(
        f"/api/v1/events/{france['id']}/retraction", json={"reason": "never joined"}, headers=auth
    )
    assert retracted.status_code == 200
    assert retracted.json["retraction_reason"] == "never joined"
    after_retraction = retracted.json["retracted_at"]
    assert_problem(
        client.post(
            f"/api/v1/events/{france['id']}/retraction", json={"reason": "again"}, headers=auth
        ),
        409,
        "already-retracted",
    )
    assert_problem(
        client.post(
            f"/api/v1/events/{france['id']}/correction",
            json={"reason": "r", "effective_on": "2024-08-01"},
            headers=auth,
        ),
        409,
        "already-retracted",
    )
    # A correction that would break the rules is refused like any event.
    assert_problem(
        client.post(
            f"/api/v1/events/{rejoined.json['id']}/correction",
            json={"reason": "r", "effective_on": "2024-12-01"},
            headers=auth,
        ),
        409,
        "already-member",
    )

    # Time travel: what the registry said at each instant.
    assert members(client, "2024-05-25", after_rejoin) == []
    assert members(client, "2024-05-25", after_correction) == ["JPN"]
    assert members(client, "2024-07-15", after_correction) == ["JPN", "KEN"]
    assert members(client, "2024-07-15", france["recorded_at"]) == ["FRA", "JPN", "KEN"]
    assert members(client, "2024-07-15", after_retraction) == ["JPN", "KEN"]
    assert members(client, "2024-07-15") == ["JPN", "KEN"]
    assert members(client, "2024-06-01") == ["JPN", "KEN"]
    assert members(client, "2025-01-15") == ["JPN"]
    assert members(client, "2025-06-01") == ["JPN", "KEN"]
    assert periods(client, "KEN") == [("2024-06-01", "2025-01-15"), ("2025-06-01", None)]
    assert periods(client, "JPN", after_rejoin) == []
    assert periods(client, "JPN", after_correction) == [("2024-05-02", None)]
    assert periods(client, "FRA", france["recorded_at"]) == [("2024-07-01", None)]
    assert periods(client, "FRA") == []

    # The event lists keep everything, retracted events included on request.
    listed = client.get("/api/v1/groups/friends/events").json["items"]
    assert [e["id"] for e in listed] == [
        replacement["id"],
        first["id"],
        left.json["id"],
        rejoined.json["id"],
    ]
    everything = client.get("/api/v1/groups/friends/events?include_retracted=true").json["items"]
    assert {wrong["id"], france["id"]} <= {e["id"] for e in everything}
    timeline = client.get("/api/v1/participants/KEN/events").json["items"]
    assert [e["type"] for e in timeline] == ["accession", "withdrawal", "accession"]
    by_type = client.get("/api/v1/groups/friends/events?type=withdrawal").json["items"]
    assert [e["id"] for e in by_type] == [left.json["id"]]
    japan = client.get("/api/v1/groups/friends/events?participant=jp").json["items"]
    assert [e["id"] for e in japan] == [replacement["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"participant": "KEN", "effective_on": "2024-05-01"}, "effective_on"),
        (
            {"participant": "KEN", "effective_on": "2025-06-01", "earliest_on": "2025-06-02"},
            "earliest_on",
        ),
        (
            {"participant": "KEN", "effective_on": "2025-06-01", "earliest_on": "2024-01-01"},
            "earliest_on",
        ),
        ({"participant": "ATLANTIS", "effective_on": "2025-06-01"}, "participant"),
        ({"participant": "UNDP", "effective_on": "2025-06-01"}, "participant"),
    ],
)
def test_invalid_accessions_are_422(client, auth, session, body, field):
    create_group(client, auth)
    client.post(
        "/api/v1/participants",
        json={"code": "UNDP", "name": "UNDP", "kind": "organisation"},
        headers=auth,
    )
    before = row_counts(session)
    assert_problem(
        client.post("/api/v1/groups/friends/accessions", json=body, headers=auth),
        422,
        "validation-error",
        field,
    )
    assert row_counts(session) == before


def test_the_future_limit_is_366_days(client, auth):
    create_group(client, auth)
    limit = today() + timedelta(days=366)
    assert_problem(
        accede(client, auth, "KEN", (limit + timedelta(days=1)).isoformat()),
        422,
        field="effective_on",
    )
    assert accede(client, auth, "KEN", limit.isoformat()).status_code == 201


def test_uncertain_dates_are_kept_and_flagged(client, auth):
    create_group(client, auth)
    event = accede(client, auth, "VNM", "2025-10-29", earliest_on="2024-05-02").json
    assert event["earliest_on"] == "2024-05-02"
    report = client.get("/api/v1/groups/friends/members?as_of=2025-01-01").json
    assert report["count"] == 0 and report["possibly_members"] == 1
    report = client.get("/api/v1/groups/friends/members?as_of=2025-10-29").json
    assert report["members"][0]["date_uncertain"] is True


def test_commitments_reports_and_withdrawals(client, auth, session):
    assert client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth).status_code == 201
    client.post(
        "/api/v1/participants",
        json={"code": "ACME", "name": "Acme", "kind": "organisation"},
        headers=auth,
    )
    url = "/api/v1/instruments/code"
    report = {"participant": "ACME", "effective_on": "2025-04-30", "sources": [SOURCE]}
    assert_problem(
        client.post(f"{url}/reports", json=report, headers=auth), 409, "no-active-commitment"
    )
    assert_problem(
        client.post(f"{url}/reports", json={**report, "sources": []}, headers=auth),
        422,
        field="sources",
    )
    partial = {"participant": "ACME", "effective_on": "2025-02-07", "provisions": [1, 3]}
    made = client.post(f"{url}/commitments", json=partial, headers=auth)
    assert made.status_code == 201 and made.json["provisions"] == [1, 3]
    assert_problem(
        client.post(f"{url}/commitments", json={**partial, "provisions": [4]}, headers=auth),
        422,
        field="provisions",
    )
    assert client.post(f"{url}/reports", json=report, headers=auth).status_code == 201
    widened = {"participant": "ACME", "effective_on": "2025-06-01", "provisions": None}
    assert client.post(f"{url}/commitments", json=widened, headers=auth).status_code == 201
    ended = {"participant": "ACME", "effective_on": "2025-09-01"}
    assert client.post(f"{url}/withdrawals", json=ended, headers=auth).status_code == 201
    assert_problem(
        client.post(f"{url}/withdrawals", json=ended, headers=auth), 409, "not-committed"
    )
    late = {**report, "effective_on": "2025-10-01"}
    assert_problem(
        client.post(f"{url}/reports", json=late, headers=auth), 409, "no-active-commitment"
    )
    # A back-dated withdrawal before the report would leave the report without a commitment.
    early = {"participant": "ACME", "effective_on": "2025-03-01"}
    assert_problem(
        client.post(f"{url}/withdrawals", json=early, headers=auth), 409, "history-conflict"
    )

    standing = client.get("/api/v1/participants/ACME?as_of=2025-05-01").json["commitments"]
    assert standing == [
        {
            "instrument": "code",
            "committed": True,
            "provisions": [1, 3],
            "periods": [{"since": "2025-02-07", "until": None, "since_uncertain": False}],
            "last_report_on": "2025-04-30",
        }
    ]
    after = client.get("/api/v1/participants/ACME?as_of=2025-12-01").json["commitments"][0]
    assert after["committed"] is False
    assert after["periods"] == [
        {"since": "2025-02-07", "until": "2025-09-01", "since_uncertain": False}
    ]


def test_a_note_only_correction_keeps_the_events_place_among_same_day_events(client, auth):
    create_group(client, auth)
    accession = accede(client, auth, "KEN", "2024-06-01").json
    withdrawal = withdraw(client, auth, "KEN", "2024-06-01").json
    assert accede(client, auth, "KEN", "2024-06-01").status_code == 201
    # Correcting the first accession's note: it stays before the withdrawal of the same day.
    response = client.post(
        f"/api/v1/events/{accession['id']}/correction",
        json={"reason": "typo", "note": "joined at the summit"},
        headers=auth,
    )
    assert response.status_code == 201, response.json
    replacement = response.json
    # So does a correction of the correction, and one of the withdrawal between them.
    again = client.post(
        f"/api/v1/events/{replacement['id']}/correction",
        json={"reason": "typo", "note": "joined at the Hiroshima summit"},
        headers=auth,
    )
    assert again.status_code == 201, again.json
    left = client.post(
        f"/api/v1/events/{withdrawal['id']}/correction",
        json={"reason": "typo", "note": "left the same day"},
        headers=auth,
    )
    assert left.status_code == 201, left.json
    assert members(client, "2024-06-01") == ["KEN"]
    assert periods(client, "KEN") == [("2024-06-01", "2024-06-01"), ("2024-06-01", None)]
    # Naming the same day keeps the place too; moving to another day leaves the withdrawal alone.
    same_day = client.post(
        f"/api/v1/events/{again.json['id']}/correction",
        # (with a new note: a correction that changes nothing is refused)
        json={"reason": "r", "effective_on": "2024-06-01", "note": "joined on the day"},
        headers=auth,
    )
    assert same_day.status_code == 201, same_day.json
    assert_problem(
        client.post(
            f"/api/v1/events/{same_day.json['id']}/correction",
            json={"reason": "r", "effective_on": "2024-06-02"},
            headers=auth,
        ),
        409,
        "history-conflict",
    )
