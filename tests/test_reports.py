"""Reports: members on a date, counts over time, instruments; JSON, CSV and CLI agree."""

import csv
import io
import json

import pytest
from sqlalchemy import Column, event, text
from sqlalchemy.sql import visitors

from friendsgroup.db import get_db
from friendsgroup.models import GROUP_TIMELINE_COLUMNS, Event
from friendsgroup.reports.members import MEMBERS
from friendsgroup.timeutil import utcnow
from tests.support import INSTRUMENT_BODY, SOURCE, accede, create_group, withdraw


@pytest.fixture
def history(client, auth):
    """A small history whose figures are worked out by hand in the tests below."""
    create_group(client, auth)
    client.post(
        "/api/v1/participants",
        json={"code": "EU", "name": "European Union", "kind": "region"},
        headers=auth,
    )
    for body in (
        {"as_of": "2024-05-02", "count": 49, "source": SOURCE},
        {
            "as_of": "2024-10-01",
            "count": 55,
            "source": {**SOURCE, "url": "https://example.org/2", "reliability": "reported"},
        },
    ):
        assert (
            client.post("/api/v1/groups/friends/announcements", json=body, headers=auth).status_code
            == 201
        )
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
    assert accede(client, auth, "EU", "2024-05-02").status_code == 201
    assert accede(client, auth, "KEN", "2024-06-10").status_code == 201
    france = accede(client, auth, "FRA", "2024-07-01").json
    assert withdraw(client, auth, "KEN", "2024-09-05").status_code == 201
    assert accede(client, auth, "VNM", "2024-12-02", earliest_on="2024-05-02").status_code == 201
    rejoin = accede(client, auth, "KEN", "2024-11-20")
    assert rejoin.status_code == 201
    retraction = client.post(
        f"/api/v1/events/{france['id']}/retraction", json={"reason": "not a member"}, headers=auth
    )
    return {
        "before_retraction": rejoin.json["recorded_at"],
        "retracted_at": retraction.json["retracted_at"],
    }


def test_members_report(client, history):
    report = client.get("/api/v1/groups/friends/members?as_of=2024-10-31").json
    assert report["group"] == "friends" and report["as_of"] == "2024-10-31"
    assert report["count"] == 2
    assert report["possibly_members"] == 1
    assert report["by_kind"] == {"country": 1, "region": 1}
    assert report["by_region"] == {"Asia": 1}
    assert report["announced"]["count"] == 55
    assert report["announced"]["as_of"] == "2024-10-01"
    assert report["announced"]["source"]["reliability"] == "reported"
    assert report["announced"]["difference"] == -53
    assert report["members"] == [
        {
            "code": "EU",
            "name": "European Union",
            "kind": "region",
            "region": None,
            "member_since": "2024-05-02",
            "date_uncertain": False,
        },
        {
            "code": "JPN",
            "name": "Japan",
            "kind": "country",
            "region": "Asia",
            "member_since": "2024-05-02",
            "date_uncertain": False,
        },
    ]


def test_members_report_before_the_retraction_was_known(client, history):
    known_at = history["before_retraction"]
    report = client.get(f"/api/v1/groups/friends/members?as_of=2024-10-31&known_at={known_at}").json
    assert report["known_at"] == known_at
    assert report["count"] == 3
    assert report["by_region"] == {"Asia": 1, "Europe": 1}
    assert [m["code"] for m in report["members"]] == ["EU", "FRA", "JPN"]


def test_members_report_on_rejoin_and_uncertain_dates(client, history):
    report = client.get("/api/v1/groups/friends/members?as_of=2024-12-31").json
    assert report["count"] == 4 and report["possibly_members"] == 0
    since = {m["code"]: (m["member_since"], m["date_uncertain"]) for m in report["members"]}
    assert since["KEN"] == ("2024-11-20", False)
    assert since["VNM"] == ("2024-12-02", True)
    assert report["by_region"] == {"Africa": 1, "Asia": 2}


def test_no_announcement_before_the_first(client, auth):
    create_group(client, auth, established_on="2024-01-01")
    report = client.get("/api/v1/groups/friends/members?as_of=2024-03-01").json
    assert report["announced"] is None and report["count"] == 0


MONTHS = [
    # date, count, joined, left, possibly_members, announced
    ("2024-05-31", 2, 2, 0, 1, 49),
    ("2024-06-30", 3, 1, 0, 1, 49),
    ("2024-07-31", 3, 0, 0, 1, 49),
    ("2024-08-31", 3, 0, 0, 1, 49),
    ("2024-09-30", 2, 0, 1, 1, 49),
    ("2024-10-31", 2, 0, 0, 1, 55),
    ("2024-11-30", 3, 1, 0, 1, 55),
    ("2024-12-15", 4, 1, 0, 0, 55),
]
COLUMNS = ["date", "count", "joined", "left", "possibly_members", "announced"]


def test_month_series(client, history):
    series = client.get(
        "/api/v1/groups/friends/counts?from=2024-05-01&to=2024-12-15&interval=month"
    ).json
    assert series["interval"] == "month"
    assert [tuple(p[c] for c in COLUMNS) for p in series["points"]] == MONTHS


def test_month_series_before_the_retraction_was_known(client, history):
    series = client.get(
        "/api/v1/groups/friends/counts?from=2024-05-01&to=2024-08-31&interval=month"
        f"&known_at={history['before_retraction']}"
    ).json
    assert [(p["count"], p["joined"]) for p in series["points"]] == [(2, 2), (3, 1), (4, 1), (4, 0)]


@pytest.mark.parametrize(
    ("interval", "dates"),
    [
        ("day", ["2024-06-09", "2024-06-10", "2024-06-11"]),
        ("week", ["2024-06-09", "2024-06-11"]),
        ("quarter", ["2024-06-11"]),
        ("year", ["2024-06-11"]),
    ],
)
def test_intervals_end_on_the_last_day_clipped_to_to(client, history, interval, dates):
    series = client.get(
        f"/api/v1/groups/friends/counts?from=2024-06-09&to=2024-06-11&interval={interval}"
    ).json
    assert [p["date"] for p in series["points"]] == dates
    assert series["points"][-1]["count"] == 3


def test_series_defaults_and_limits(client, history):
    series = client.get("/api/v1/groups/friends/counts?interval=year").json
    assert series["from"] == "2024-05-02"
    too_long = client.get(
        "/api/v1/groups/friends/counts?from=1990-01-01&to=2024-01-01&interval=day"
    )
    assert too_long.status_code == 422 and "interval" in too_long.json["errors"]
    backwards = client.get("/api/v1/groups/friends/counts?from=2024-06-01&to=2024-05-01")
    assert backwards.status_code == 422 and "from" in backwards.json["errors"]


def count_statements(app, fn):
    """How many SQL statements ``fn`` issues."""
    statements = []
    engine = get_db(app).engine

    def listener(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def test_the_day_series_issues_a_bounded_number_of_statements(app, client, history):
    def series(start, interval):
        def fetch():
            response = client.get(
                f"/api/v1/groups/friends/counts?from={start}&to=2034-05-01&interval={interval}"
            )
            assert response.status_code == 200

        return fetch

    series("2033-05-02", "year")()  # the first request also looks the group up
    ten_years_by_day = count_statements(app, series("2024-05-02", "day"))
    one_year = count_statements(app, series("2033-05-02", "year"))
    assert ten_years_by_day == one_year
    assert ten_years_by_day <= 5


def test_csv_neutralises_formulas_and_matches_json(client, auth, history):
    client.post(
        "/api/v1/participants",
        json={"code": "EVIL", "name": "=HYPERLINK(1)", "kind": "region"},
        headers=auth,
    )
    accede(client, auth, "EVIL", "2024-05-03")
    report = client.get("/api/v1/groups/friends/members?as_of=2024-10-31").json
    response = client.get("/api/v1/groups/friends/members?as_of=2024-10-31&format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["code"] for r in rows] == [m["code"] for m in report["members"]]
    assert "'=HYPERLINK(1)" in [r["name"] for r in rows]
    assert "=HYPERLINK(1)" in [m["name"] for m in report["members"]]
    by_accept = client.get(
        "/api/v1/groups/friends/counts?from=2024-05-01&to=2024-12-15",
        headers={"Accept": "text/csv"},
    )
    lines = list(csv.reader(io.StringIO(by_accept.get_data(as_text=True))))
    csv_columns = [*COLUMNS, "announced_bound"]
    assert lines[0] == csv_columns
    series = client.get("/api/v1/groups/friends/counts?from=2024-05-01&to=2024-12-15").json
    assert [[p["date"], *(str(p[c]) for c in csv_columns[1:])] for p in series["points"]] == lines[
        1:
    ]
    assert lines[1][1] == "3"


def test_reports_carry_an_etag(client, auth, history):
    url = "/api/v1/groups/friends/members?as_of=2024-10-31"
    first = client.get(url)
    assert first.headers["ETag"].startswith('W/"')
    # known_at defaults to now, yet the report is unchanged while nothing is recorded.
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    as_csv = client.get(url + "&format=csv")
    assert as_csv.headers["ETag"] != first.headers["ETag"]
    accede(client, auth, "DEU", "2024-06-01")
    changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.json["count"] == 3


def test_cli_reports_the_same_figures(runner, client, history):
    report = client.get("/api/v1/groups/friends/members?as_of=2024-10-31").json
    as_json = runner.invoke(
        args=["report", "members", "friends", "--as-of", "2024-10-31", "--format", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    cli_report = json.loads(as_json.output)
    assert {k: v for k, v in cli_report.items() if k != "known_at"} == {
        k: v for k, v in report.items() if k != "known_at"
    }
    table = runner.invoke(args=["report", "members", "friends", "--as-of", "2024-10-31"])
    assert "Total: 2 members (+1 possibly" in table.output
    assert "Announced: 55 as of 2024-10-01" in table.output and "difference -53" in table.output
    assert "Japan" in table.output
    as_csv = runner.invoke(
        args=[
            "report",
            "counts",
            "friends",
            "--from",
            "2024-05-01",
            "--to",
            "2024-12-15",
            "--format",
            "csv",
        ]
    )
    lines = list(csv.reader(io.StringIO(as_csv.output)))
    assert [tuple(int(v) for v in line[1:-1]) for line in lines[1:]] == [m[1:] for m in MONTHS]
    counts_table = runner.invoke(
        args=["report", "counts", "friends", "--from", "2024-05-01", "--to", "2024-12-15"]
    )
    assert "Total: 8 points; 5 joined, 1 left; 4 members on 2024-12-15" in counts_table.output
    unknown = runner.invoke(args=["report", "members", "nope"])
    assert unknown.exit_code == 1


def test_instrument_participants_and_counts(client, auth, history):
    client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth)
    for code in ("ACME", "BETA", "GAMMA"):
        client.post(
            "/api/v1/participants",
            json={"code": code, "name": code.title(), "kind": "organisation"},
            headers=auth,
        )
    url = "/api/v1/instruments/code"

    def post(kind, **body):
        response = client.post(f"{url}/{kind}", json=body, headers=auth)
        assert response.status_code == 201, response.json

    post("commitments", participant="ACME", effective_on="2025-02-07", provisions=[1, 3])
    post("commitments", participant="BETA", effective_on="2025-03-01")
    post("reports", participant="BETA", effective_on="2025-04-30", sources=[SOURCE])
    post("commitments", participant="GAMMA", effective_on="2025-02-10", provisions=[2])
    post("withdrawals", participant="GAMMA", effective_on="2025-04-01")
    post("commitments", participant="JPN", effective_on="2025-03-15", provisions=[2])
    report = client.get(f"{url}/participants?as_of=2025-05-01").json
    assert (report["count"], report["full"], report["partial"], report["reported"]) == (3, 1, 2, 1)
    assert report["by_provision"] == {"1": 2, "2": 2, "3": 2}
    assert [p["code"] for p in report["participants"]] == ["ACME", "BETA", "JPN"]
    assert report["participants"][1]["last_report_on"] == "2025-04-30"
    friends_only = client.get(f"{url}/participants?as_of=2025-05-01&members_of=friends").json
    assert [p["code"] for p in friends_only["participants"]] == ["JPN"]
    series = client.get(f"{url}/counts?from=2025-01-01&to=2025-05-31&interval=month").json
    assert [
        (p["date"], p["count"], p["joined"], p["left"], p["reported"]) for p in series["points"]
    ] == [
        ("2025-01-31", 0, 0, 0, 0),
        ("2025-02-28", 2, 2, 0, 0),
        ("2025-03-31", 4, 2, 0, 0),
        ("2025-04-30", 3, 0, 1, 1),
        ("2025-05-31", 3, 0, 0, 1),
    ]
    as_csv = client.get(f"{url}/participants?as_of=2025-05-01&format=csv")
    assert as_csv.get_data(as_text=True).splitlines()[0].startswith("code,name,kind")


def test_an_announcement_before_the_group_existed_is_422(client, auth, session):
    from tests.support import assert_problem, row_counts

    create_group(client, auth)
    before = row_counts(session)
    body = {"as_of": "2024-05-01", "count": 3, "source": SOURCE}
    response = client.post("/api/v1/groups/friends/announcements", json=body, headers=auth)
    assert_problem(response, 422, "validation-error", "as_of")
    assert row_counts(session) == before
    listed = client.get("/api/v1/groups/friends/announcements").json
    assert listed == {"items": [], "next_cursor": None}


def test_the_members_report_reads_the_group_timeline_index_alone(app, history):
    # Every column of the events the report reads is in the index, so it never reads the
    # table's pages, where a group's events lie among every other group's.
    read = {
        element.name
        for element in visitors.iterate(MEMBERS)
        if isinstance(element, Column) and element.table is Event.__table__
    }
    assert read <= set(GROUP_TIMELINE_COLUMNS)
    engine = get_db(app).engine
    postgres = engine.dialect.name == "postgresql"
    # Which way a planner takes depends on its statistics; with the other ways to a group's
    # events ruled out, inside a transaction that is rolled back, the plan shows whether this
    # index covers the report (PostgreSQL then skips the table pages the visibility map
    # marks, autovacuum's work; SQLite reads the index alone).
    with engine.connect() as connection:
        if postgres:
            for way in ("seqscan", "bitmapscan"):
                connection.exec_driver_sql(f"SET LOCAL enable_{way} = off")
        for other in ("ix_events_group_recorded", "ix_events_group_effective_on"):
            connection.exec_driver_sql(f"DROP INDEX {other}")
        group_id = connection.scalar(text("SELECT id FROM groups WHERE slug = 'friends'"))
        values = {"group_id": group_id, "as_of": "2024-12-31", "known_at": str(utcnow())}
        compiled = MEMBERS.compile(connection)
        params = compiled.construct_params(values)
        if compiled.positiontup:  # SQLite's parameters are positional
            params = tuple(params[name] for name in compiled.positiontup)
        explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
        plan = [str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {compiled}", params)]
    covered = (
        "Index Only Scan using ix_events_group_timeline"
        if postgres
        else "USING COVERING INDEX ix_events_group_timeline"
    )
    assert any(covered in line for line in plan), plan
