"""Announced totals: bounds, corrections and retractions, and ``known_at`` on every report."""

import csv
import io

from tests.support import SOURCE, accede, assert_problem, create_group, row_counts

MORE_THAN_60 = {"as_of": "2026-02-19", "count": 60, "bound": "at_least", "source": SOURCE}


def announce(client, auth, body, group="friends"):
    response = client.post(f"/api/v1/groups/{group}/announcements", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def members(client, as_of="2026-03-01", known_at=None):
    query = f"as_of={as_of}" + (f"&known_at={known_at}" if known_at else "")
    return client.get(f"/api/v1/groups/friends/members?{query}").json


def test_an_at_least_total_shows_its_bound_in_json_csv_and_the_cli(client, auth, runner):
    create_group(client, auth)
    accede(client, auth, "JPN", "2024-05-02")
    announced = announce(client, auth, MORE_THAN_60)
    assert announced["bound"] == "at_least" and announced["retracted_by"] is None
    block = members(client)["announced"]
    assert block["bound"] == "at_least" and block["count"] == 60 and block["difference"] == -59
    points = client.get("/api/v1/groups/friends/counts?from=2026-01-01&to=2026-02-28").json
    assert [(p["announced"], p["announced_bound"]) for p in points["points"]] == [
        (None, None),
        (60, "at_least"),
    ]
    listed = client.get("/api/v1/groups/friends/announcements?format=csv")
    rows = list(csv.DictReader(io.StringIO(listed.get_data(as_text=True))))
    assert [(r["count"], r["bound"]) for r in rows] == [("60", "at_least")]
    counts = client.get("/api/v1/groups/friends/counts?from=2026-02-01&to=2026-03-31&format=csv")
    last = list(csv.DictReader(io.StringIO(counts.get_data(as_text=True))))[-1]
    assert (last["announced"], last["announced_bound"]) == ("60", "at_least")
    table = runner.invoke(args=["report", "members", "friends", "--as-of", "2026-03-01"])
    assert table.exit_code == 0, table.output
    assert "Announced: at least 60 as of 2026-02-19 (official); difference -59" in table.output


def test_the_latest_date_wins_and_on_one_date_the_more_reliable_source(client, auth):
    create_group(client, auth)
    accede(client, auth, "JPN", "2024-05-02")
    reported = {**SOURCE, "url": "https://example.org/2", "reliability": "reported"}
    # Recorded in an order that is neither the dates' nor the reliabilities'.
    announce(client, auth, {"as_of": "2024-10-01", "count": 60, "source": SOURCE})
    announce(client, auth, {"as_of": "2024-10-01", "count": 58, "source": reported})
    announce(client, auth, {"as_of": "2024-05-02", "count": 40, "source": SOURCE})
    announce(client, auth, {"as_of": "2025-01-01", "count": 70, "source": SOURCE})
    assert [members(client, on)["announced"]["count"] for on in ("2024-06-01", "2024-12-31")] == [
        40,
        60,
    ]
    assert members(client, "2024-12-31")["announced"]["source"]["reliability"] == "official"
    assert members(client, "2025-01-01")["announced"]["count"] == 70
    query = "interval=day&from=2024-09-30&to=2025-01-01"
    series = client.get(f"/api/v1/groups/friends/counts?{query}").json
    announced = {point["date"]: point["announced"] for point in series["points"]}
    assert [announced[on] for on in ("2024-09-30", "2024-10-01", "2025-01-01")] == [40, 60, 70]


def test_an_exact_total_is_the_default_and_a_bad_bound_is_refused(client, auth, session):
    create_group(client, auth)
    assert announce(client, auth, {**MORE_THAN_60, "bound": "exact"})["bound"] == "exact"
    plain = {k: v for k, v in MORE_THAN_60.items() if k != "bound"}
    assert announce(client, auth, plain)["bound"] == "exact"
    before = row_counts(session)
    refused = client.post(
        "/api/v1/groups/friends/announcements", json={**plain, "bound": "roughly"}, headers=auth
    )
    assert_problem(refused, 422, field="bound")
    assert row_counts(session) == before


def test_corrected_and_retracted_totals_keep_the_old_state_at_an_earlier_known_at(
    client, auth, session
):
    create_group(client, auth)
    launch = announce(client, auth, {"as_of": "2024-05-02", "count": 47, "source": SOURCE})
    later = announce(client, auth, MORE_THAN_60)
    before_changes = later["recorded_at"]

    corrected = client.post(
        f"/api/v1/announcements/{launch['id']}/correction",
        json={"reason": "the official text says 49", "count": 49, "note": "launch figure"},
        headers=auth,
    )
    assert corrected.status_code == 201, corrected.json
    replacement = corrected.json
    assert corrected.headers["Location"] == f"/api/v1/announcements/{replacement['id']}"
    assert replacement["supersedes"] == launch["id"] and replacement["count"] == 49
    assert replacement["source"]["url"] == SOURCE["url"] and replacement["bound"] == "exact"
    old = client.get(f"/api/v1/announcements/{launch['id']}").json
    assert old["superseded_by"] == replacement["id"] and old["retracted_by"] == "secretariat"
    assert old["retraction_reason"] == "the official text says 49"

    retracted = client.post(
        f"/api/v1/announcements/{later['id']}/retraction",
        json={"reason": "misread source"},
        headers=auth,
    )
    assert retracted.status_code == 200
    assert retracted.json["retracted_by"] == "secretariat" and retracted.json["retracted_at"]

    # Now: 49 at launch, and nothing more in 2026.
    assert members(client, "2024-06-01")["announced"]["count"] == 49
    assert members(client)["announced"]["count"] == 49
    # Before the changes: 47 at launch, more than 60 in 2026.
    assert members(client, "2024-06-01", before_changes)["announced"]["count"] == 47
    assert members(client, known_at=before_changes)["announced"]["bound"] == "at_least"
    series = client.get(
        "/api/v1/groups/friends/counts?from=2024-05-01&to=2026-02-28"
        f"&interval=year&known_at={before_changes}"
    ).json
    assert [p["announced"] for p in series["points"]] == [47, 47, 60]
    listed = client.get("/api/v1/groups/friends/announcements").json["items"]
    assert [a["count"] for a in listed] == [49]
    everything = client.get("/api/v1/groups/friends/announcements?include_retracted=true").json
    assert [a["count"] for a in everything["items"]] == [47, 49, 60]
    earlier = client.get(f"/api/v1/groups/friends/announcements?known_at={before_changes}").json
    assert [a["count"] for a in earlier["items"]] == [47, 60]

    # Append-only: a retracted total is neither retracted again nor corrected.
    before = row_counts(session)
    for action, body in (("retraction", {"reason": "x"}), ("correction", {"reason": "x"})):
        response = client.post(
            f"/api/v1/announcements/{later['id']}/{action}", json=body, headers=auth
        )
        assert_problem(response, 409, "already-retracted")
    assert row_counts(session) == before


def test_a_correction_that_changes_nothing_or_is_bad_is_refused(client, auth, session):
    create_group(client, auth)
    total = announce(client, auth, {**MORE_THAN_60, "note": "n"})
    before = row_counts(session)
    url = f"/api/v1/announcements/{total['id']}/correction"
    same = client.post(url, json={"reason": "r", "count": 60, "note": "n"}, headers=auth)
    assert_problem(same, 422, field="body")
    early = client.post(url, json={"reason": "r", "as_of": "2020-01-01"}, headers=auth)
    assert_problem(early, 422, field="as_of")
    assert_problem(client.post(url, json={"count": 61}, headers=auth), 422, field="reason")
    missing = client.post(
        "/api/v1/announcements/999/retraction", json={"reason": "r"}, headers=auth
    )
    assert_problem(missing, 404)
    assert client.get("/api/v1/announcements/999").status_code == 404
    assert row_counts(session) == before
    cleared = client.post(url, json={"reason": "stale note", "note": None}, headers=auth)
    assert cleared.status_code == 201 and cleared.json["note"] is None
