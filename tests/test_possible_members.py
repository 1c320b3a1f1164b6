"""The members report names who it counts as possibly members, in JSON, CSV and the CLI."""

import csv
import io

from tests.support import SOURCE, accede, assert_problem, create_group

UNVERIFIED = {"url": "https://example.org/list", "reliability": "unverified"}
REPORTED = {"url": "https://example.org/news", "reliability": "reported"}


def world(client, auth):
    create_group(client, auth)
    for code, sources in (("ARG", [UNVERIFIED]), ("AUS", [REPORTED, SOURCE]), ("BRA", [])):
        window = {"earliest_on": "2024-05-02", "sources": sources}
        assert accede(client, auth, code, "2026-05-14", **window).status_code == 201
    assert accede(client, auth, "JPN", "2024-05-02", sources=[SOURCE]).status_code == 201


def test_the_report_lists_the_possible_members_with_their_window_and_strongest_source(client, auth):
    world(client, auth)
    report = client.get("/api/v1/groups/friends/members?as_of=2025-01-01").json
    assert report["count"] == 1 and report["possibly_members"] == 3
    assert report["possible_members"] == [
        {
            "code": "ARG",
            "name": "Argentina",
            "kind": "country",
            "earliest_on": "2024-05-02",
            "effective_on": "2026-05-14",
            "reliability": "unverified",
        },
        {
            "code": "AUS",
            "name": "Australia",
            "kind": "country",
            "earliest_on": "2024-05-02",
            "effective_on": "2026-05-14",
            "reliability": "official",
        },
        {
            "code": "BRA",
            "name": "Brazil",
            "kind": "country",
            "earliest_on": "2024-05-02",
            "effective_on": "2026-05-14",
            "reliability": None,
        },
    ]
    # Once attested, they are members, and nobody is possibly one.
    later = client.get("/api/v1/groups/friends/members?as_of=2026-05-14").json
    assert later["possible_members"] == [] and later["count"] == 4


def test_csv_keeps_the_members_and_offers_the_possible_members(client, auth):
    world(client, auth)
    url = "/api/v1/groups/friends/members?as_of=2025-01-01&format=csv"
    members = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    assert [m["code"] for m in members] == ["JPN"]
    possible = client.get(url + "&rows=possible_members")
    rows = list(csv.DictReader(io.StringIO(possible.get_data(as_text=True))))
    assert [(r["code"], r["reliability"]) for r in rows] == [
        ("ARG", "unverified"),
        ("AUS", "official"),
        ("BRA", ""),
    ]
    assert list(rows[0]) == ["code", "name", "kind", "earliest_on", "effective_on", "reliability"]
    assert_problem(client.get(url + "&rows=everyone"), 422, field="rows")


def test_the_cli_table_lists_them(client, auth, runner):
    world(client, auth)
    shown = runner.invoke(args=["report", "members", "friends", "--as-of", "2025-01-01"])
    assert shown.exit_code == 0, shown.output
    assert "Possibly members" in shown.output
    line = next(line for line in shown.output.splitlines() if line.startswith("AUS"))
    assert line.split() == ["AUS", "Australia", "country", "2024-05-02", "2026-05-14", "official"]
    as_csv = runner.invoke(
        args=["report", "members", "friends", "--as-of", "2025-01-01", "--format", "csv"]
        + ["--rows", "possible_members"]
    )
    assert as_csv.output.splitlines()[1].startswith("ARG,Argentina,country,2024-05-02")
