"""``friendsgroup import``: CSV and JSON lines, checked like the API, all or nothing."""

import csv
import io
import json
from datetime import date, timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from friendsgroup.db import get_db
from friendsgroup.ingest import bulk, files, writers
from friendsgroup.ingest.bodies import BodyLoader
from friendsgroup.ingest.files import file_format
from friendsgroup.models import Change, Delivery, Event, Group, Participant, Webhook
from friendsgroup.schemas import CommitmentCreateSchema, EventCreateSchema, ReportCreateSchema
from tests.support import accede, analysed_tables, create_group, snapshot

HEADER = list(files.CSV_COLUMNS)
URL = "https://example.org/press/"


def row(participant, on, type_="accession", group="friends", url=URL + "1", **cells) -> dict:
    """One CSV row as a dict of the import format's columns."""
    values = {
        "group": group,
        "type": type_,
        "participant": participant,
        "effective_on": on,
        "source_url": url,
        "source_reliability": "official",
    }
    values.update(cells)
    return values


def write_csv(path, rows: list[dict]):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path, lines: list) -> object:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def run(runner, path, *options):
    return runner.invoke(args=["import", str(path), *options])


def group_events(client, slug="friends") -> list[dict]:
    response = client.get(f"/api/v1/groups/{slug}/events")
    assert response.status_code == 200
    return response.json["items"]


@pytest.fixture
def friends(client, auth):
    return create_group(client, auth)


@pytest.fixture
def instrument(client, auth, friends):
    body = {
        "slug": "code",
        "name": "Code of Conduct",
        "adopted_on": "2023-10-30",
        "provisions": [{"number": n, "title": f"Action {n}"} for n in range(1, 12)],
    }
    response = client.post("/api/v1/instruments", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


# --- all or nothing -------------------------------------------------------------------------


def test_a_bad_csv_line_is_named_and_nothing_is_written(runner, app, client, friends, tmp_path):
    good = [row("JPN", "2024-05-02"), row("FR", "2024-06-01"), row("KEN", "2025-01-01")]
    bad = row("USA", "2024-05-02", url="not a url")
    path = write_csv(tmp_path / "events.csv", [good[0], bad, *good[1:]])
    before = snapshot(app)

    for options in (["--dry-run"], []):
        result = run(runner, path, *options)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0] == "line 3: source_url: Not a valid URL."
        assert lines[-1].startswith("error: 1 line(s) of ")
        assert lines[-1].endswith("are invalid; nothing was written")
        assert snapshot(app) == before

    path = write_csv(tmp_path / "events.csv", good)
    dry = run(runner, path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would record 3 events" in dry.stdout
    assert "group      friends  accession          3" in dry.stdout
    assert "dry run: nothing was written" in dry.stdout
    assert snapshot(app) == before

    done = run(runner, path)
    assert done.exit_code == 0, done.output
    assert "recorded 3 events" in done.stdout
    events = group_events(client)
    assert sorted(e["participant"]["code"] for e in events) == ["FRA", "JPN", "KEN"]
    assert {e["recorded_by"] for e in events} == {"import"}
    assert len({e["recorded_at"] for e in events}) == 1
    assert events[0]["sources"] == [
        {
            "url": URL + "1",
            "title": None,
            "publisher": None,
            "published_on": None,
            "reliability": "official",
        }
    ]


def test_a_bad_json_line_is_named_and_nothing_is_written(runner, app, client, friends, tmp_path):
    good = {"type": "accession", "group": "friends", "participant": "JPN"}
    lines = [
        {**good, "effective_on": "2024-05-02"},
        {**good, "participant": "FRA", "effective_on": "2024-13-01"},
        "",
        "not json",
        ["a list"],
        {**good, "participant": "KEN", "effective_on": "2025-01-01", "colour": "blue"},
        {**good, "participant": "CAN", "effective_on": "2025-01-01", "sources": [{"url": "x"}]},
    ]
    path = write_jsonl(tmp_path / "events.jsonl", lines)
    before = snapshot(app)
    result = run(runner, path, "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "line 2: effective_on: Not a valid date.",
        "line 4: body: not valid JSON",
        "line 5: body: must be a JSON object",
        "line 6: colour: Unknown field.",
        "line 7: sources.0.url: Not a valid URL.",
    ]
    assert snapshot(app) == before

    path = write_jsonl(tmp_path / "events.ndjson", [lines[0], ""])
    done = run(runner, path)
    assert done.exit_code == 0, done.output
    assert [e["participant"]["code"] for e in group_events(client)] == ["JPN"]


def test_consecutive_csv_rows_are_one_event_with_their_sources(runner, client, friends, tmp_path):
    note = "Named at the launch"
    rows = [
        row("JPN", "2024-05-02", note=note, url=URL + "1", source_title="First"),
        row("JPN", "2024-05-02", note=note, url=URL + "2", source_reliability="reported"),
        row("JPN", "2024-05-02", note=note, url=URL + "3", source_published_on="2024-05-08"),
        row("KOR", "2024-05-02", note=note, url=URL + "1"),
    ]
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 0, result.output
    assert "recorded 2 events" in result.stdout
    japan = client.get("/api/v1/groups/friends/events?participant=JPN").json["items"]
    assert len(japan) == 1
    assert japan[0]["note"] == note
    assert [(s["url"], s["reliability"]) for s in japan[0]["sources"]] == [
        (URL + "1", "official"),
        (URL + "2", "reported"),
        (URL + "3", "official"),
    ]
    assert japan[0]["sources"][0]["title"] == "First"
    assert japan[0]["sources"][2]["published_on"] == "2024-05-08"


def test_a_bad_source_row_of_an_event_is_named_by_its_own_line(runner, friends, tmp_path):
    rows = [row("JPN", "2024-05-02"), row("JPN", "2024-05-02", url="ftp://example.org/x")]
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "line 3: source_url: Not a valid URL."


# --- the rules of the API -------------------------------------------------------------------


def test_every_rule_violation_is_named_with_its_line(runner, app, client, auth, friends, tmp_path):
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
    rows = [
        row("KEN", "2025-01-01", "withdrawal"),  # not a member
        row("JPN", "2024-06-01"),  # already a member since 2024-05-02
        row("XX", "2024-06-01"),  # no such participant
        row("EU", "2024-06-01"),  # not registered: a region must be
        row("USA", "2024-01-01"),  # before the group was established
        row("CAN", "2024-06-01", earliest_on="2024-07-01"),
        row("CAN", "2024-06-01", type_="commitment"),
        row("GBR", "2024-06-01", group="nope"),
        row("IND", "2024-06-01", instrument="code"),
        row("FRA", "2024-06-01"),  # the only good line
    ]
    before = snapshot(app)
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 1
    unknown = "unknown participant: not registered and not an ISO 3166-1 country code"
    assert result.stderr.splitlines() == [
        "line 2: effective_on: KEN is not a member of friends on 2025-01-01",
        "line 3: effective_on: JPN is a member of friends since 2024-05-02"
        " (accession on 2024-06-01 refused)",
        f"line 4: participant: {unknown}",
        f"line 5: participant: {unknown}",
        "line 6: effective_on: is before friends's established_on (2024-05-02)",
        "line 7: earliest_on: must not be after effective_on",
        "line 8: type: must be one of accession, withdrawal for a group",
        "line 9: group: no group 'nope'",
        "line 10: instrument: give a group or an instrument",
        "error: 9 line(s) of " + str(tmp_path / "events.csv") + " are invalid; nothing was written",
    ]
    assert snapshot(app) == before


def test_the_rules_give_the_apis_messages(runner, app, client, auth, instrument, tmp_path):
    """Lines the rules refuse are named with the message the API gives for the same body."""
    body = {"code": "NEC", "name": "NEC", "kind": "organisation"}
    assert client.post("/api/v1/participants", json=body, headers=auth).status_code == 201
    later = (date.today() + timedelta(days=400)).isoformat()
    bodies = [
        ("friends", "accession", {"participant": "NEC", "effective_on": "2025-01-01"}),
        ("friends", "accession", {"participant": "JPN", "effective_on": later}),
        (
            "friends",
            "accession",
            {"participant": "FRA", "effective_on": "2025-01-01", "earliest_on": "2024-01-01"},
        ),
        ("code", "commitment", {"participant": "KEN", "effective_on": "2023-10-01"}),
        (
            "code",
            "commitment",
            {"participant": "KEN", "effective_on": "2025-01-01", "provisions": [2, 2]},
        ),
        (
            "code",
            "commitment",
            {"participant": "KEN", "effective_on": "2025-01-01", "provisions": [1, 13]},
        ),
    ]
    expected = []
    for number, (slug, _, line) in enumerate(bodies, 1):
        path = f"/api/v1/groups/{slug}/accessions"
        if slug == "code":
            path = f"/api/v1/instruments/{slug}/commitments"
        answer = client.post(path, json=line, headers=auth).json
        expected += [
            f"line {number}: {field}: {message}"
            for field, messages in answer["errors"].items()
            for message in messages
        ]
    lines = [
        {"type": type_, ("group" if slug == "friends" else "instrument"): slug, **line}
        for slug, type_, line in bodies
    ]
    before = snapshot(app)
    result = run(runner, write_jsonl(tmp_path / "events.jsonl", lines))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == expected
    assert [message.split(":")[0] for message in expected] == [
        f"line {number}" for number in range(1, len(bodies) + 1)
    ]
    assert snapshot(app) == before


def test_lines_are_checked_in_file_order_as_the_api_would(runner, friends, tmp_path):
    rows = [
        row("KEN", "2025-06-01"),
        row("KEN", "2025-01-01"),  # back-dated: the API would refuse it the same way
        row("GHA", "2025-03-01", "withdrawal"),  # before its accession below
        row("GHA", "2025-01-01"),
    ]
    result = run(runner, write_csv(tmp_path / "events.csv", rows), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "line 3: effective_on: the change would leave event on line 2 (accession of KEN on"
        " 2025-06-01) inconsistent with the rest of the history in friends",
        "line 4: effective_on: GHA is not a member of friends on 2025-03-01",
    ]


def test_an_import_builds_on_the_recorded_history(runner, client, auth, friends, tmp_path):
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
    retracted = accede(client, auth, "KEN", "2024-05-02").json
    response = client.post(
        f"/api/v1/events/{retracted['id']}/retraction", json={"reason": "wrong"}, headers=auth
    )
    assert response.status_code == 200
    rows = [
        row("JPN", "2025-01-01", "withdrawal"),
        row("JPN", "2025-06-01"),
        row("KEN", "2025-01-01"),  # the retracted accession does not count
        row("KEN", "2025-02-01", "withdrawal"),
    ]
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 0, result.output
    members = client.get("/api/v1/groups/friends/members?as_of=2025-12-31").json
    assert [m["code"] for m in members["members"]] == ["JPN"]
    assert members["members"][0]["member_since"] == "2025-06-01"
    # The API sees what was imported: a second accession is refused.
    assert accede(client, auth, "JPN", "2025-07-01").status_code == 409


def test_an_import_into_sqlite_leaves_its_planner_statistics(runner, app, friends, tmp_path):
    engine = get_db(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's autovacuum gathers its own statistics")
    path = write_csv(tmp_path / "events.csv", [row("JPN", "2024-05-02"), row("FR", "2024-06-01")])
    assert run(runner, path, "--dry-run").exit_code == 0
    assert analysed_tables(engine) == set()  # a dry run writes nothing
    assert run(runner, path).exit_code == 0
    assert {"events", "changes"} <= analysed_tables(engine)


def test_instrument_lines_follow_the_instrument_rules(runner, client, auth, instrument, tmp_path):
    body = {"code": "NEC", "name": "NEC", "kind": "organisation"}
    assert client.post("/api/v1/participants", json=body, headers=auth).status_code == 201
    commitment = {"type": "commitment", "instrument": "code", "effective_on": "2025-01-01"}
    lines = [
        {**commitment, "participant": "ACME-AI"},
        {**commitment, "participant": "NEC", "provisions": [1, 3]},
        {**commitment, "type": "report", "participant": "NEC", "sources": [{"url": URL}]},
        {**commitment, "type": "report", "participant": "NEC"},
        {**commitment, "participant": "NEC", "provisions": [12, 1]},
        {**commitment, "type": "accession", "participant": "NEC"},
    ]
    result = run(runner, write_jsonl(tmp_path / "events.json", lines))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "line 1: participant: unknown participant: not registered and not an ISO 3166-1"
        " country code",
        "line 4: sources: Missing data for required field.",
        "line 5: provisions: code has no provision 12",
        "line 6: type: must be one of commitment, report, withdrawal for an instrument",
    ]


def test_an_instrument_history_imports(runner, client, auth, instrument, tmp_path):
    body = {"code": "NEC", "name": "NEC", "kind": "organisation"}
    assert client.post("/api/v1/participants", json=body, headers=auth).status_code == 201
    rows = [
        row("NEC", "2025-01-01", "commitment", group="", instrument="code", provisions="1 3"),
        row("NEC", "2025-01-01", "report", group="", instrument="code", url=URL + "r"),
        row("NEC", "2025-06-01", "withdrawal", group="", instrument="code"),
        row("NEC", "2025-09-01", "commitment", group="", instrument="code"),
    ]
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 0, result.output
    events = client.get("/api/v1/instruments/code/events").json["items"]
    assert [(e["type"], e["provisions"]) for e in events] == [
        ("commitment", [1, 3]),
        ("report", None),
        ("withdrawal", None),
        ("commitment", None),
    ]
    standing = client.get("/api/v1/instruments/code/participants?as_of=2025-03-01").json
    assert standing["count"] == 1
    assert standing["by_provision"]["3"] == 1
    assert standing["by_provision"]["2"] == 0
    assert standing["reported"] == 1


def test_a_dry_run_registers_no_country(runner, app, friends, tmp_path, session):
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {
                "type": "accession",
                "group": "friends",
                "participant": "ke",
                "effective_on": "2025-01-01",
            }
        ],
    )
    result = run(runner, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert session.scalars(select(Participant)).all() == []
    result = run(runner, path)
    assert result.exit_code == 0, result.output
    session.rollback()  # a new read transaction sees the import
    assert session.scalars(select(Participant.code)).all() == ["KEN"]


# --- files ----------------------------------------------------------------------------------


def test_many_lines_are_written_in_batches_with_progress(
    runner, friends, tmp_path, monkeypatch, session
):
    monkeypatch.setattr(files, "PROGRESS_EVERY", 1000)
    codes = ["JPN", "FRA", "KEN", "USA", "CAN", "GBR", "IND", "KOR", "DEU", "ITA"]
    launch = date(2024, 5, 2)
    rows = []
    for day in range(0, 250, 2):
        for code in codes:
            joined, left = launch + timedelta(days=day), launch + timedelta(days=day + 1)
            rows.append(row(code, joined.isoformat(), url=f"{URL}{code}/{day}"))
            rows.append(row(code, left.isoformat(), "withdrawal", url="", source_reliability=""))
    result = run(runner, write_csv(tmp_path / "events.csv", rows))
    assert result.exit_code == 0, result.output
    assert "recorded 2,500 events" in result.stdout
    assert "  2,000 lines read (" in result.stderr
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert len(events) == 2500
    assert [(e.participant.code, e.effective_on) for e in events[:2]] == [
        ("JPN", launch),
        ("JPN", launch + timedelta(days=1)),
    ]
    accessions = [e for e in events if e.type == "accession"]
    assert all(len(e.sources) == 1 for e in accessions)
    assert all(not e.sources for e in events if e.type == "withdrawal")
    assert all(
        e.sources[0].url == f"{URL}{e.participant.code}/{(e.effective_on - launch).days}"
        for e in accessions
    )


def _stream_in_small_pieces(monkeypatch):
    """Ids, COPY statements, hand-offs and read-ahead a few lines long, to cross their ends."""
    monkeypatch.setattr(bulk, "LOOKAHEAD", 7)
    monkeypatch.setattr(writers.CopyWriter, "FIRST_BATCH", 3)
    monkeypatch.setattr(writers.CopyWriter, "LAST_BATCH", 11)
    monkeypatch.setattr(writers.CopyWriter, "ROWS_PER_HANDOFF", 5)
    monkeypatch.setattr(writers.CopyWriter, "HANDOFFS_IN_FLIGHT", 2)
    monkeypatch.setattr(writers.BatchWriter, "BATCH", 13)


def _joins_and_leaves(codes: list[str], days: int, url: str = URL) -> list[dict]:
    """Each code joins and leaves ``friends`` on alternate days; codes come in one by one."""
    lines = []
    launch = date(2024, 5, 2)
    for day in range(0, days, 2):
        for code in codes[: 1 + day // 2]:
            for type_, on in (("accession", day), ("withdrawal", day + 1)):
                line = {
                    "type": type_,
                    "group": "friends",
                    "participant": code,
                    "effective_on": (launch + timedelta(days=on)).isoformat(),
                }
                if type_ == "accession":
                    line["sources"] = [{"url": f"{url}{code}/{day}", "reliability": "official"}]
                lines.append(line)
    return lines


def test_participants_first_seen_late_and_many_writes_stream_in_order(
    runner, friends, tmp_path, monkeypatch, session
):
    _stream_in_small_pieces(monkeypatch)
    codes = ["JPN", "FRA", "KEN", "USA", "CAN", "GBR", "IND", "KOR", "DEU", "ITA", "BRA", "MEX"]
    lines = _joins_and_leaves(codes, 40)
    result = run(runner, write_jsonl(tmp_path / "events.jsonl", lines))
    assert result.exit_code == 0, result.output
    assert f"recorded {len(lines)} events" in result.stdout
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [(e.type, e.participant.code, e.effective_on.isoformat()) for e in events] == [
        (line["type"], line["participant"], line["effective_on"]) for line in lines
    ]
    assert [[s.url for s in e.sources] for e in events] == [
        [s["url"] for s in line.get("sources", [])] for line in lines
    ]
    assert sorted(session.scalars(select(Participant.code))) == sorted(codes)


@pytest.mark.parametrize("webhooks", [False, True])
def test_every_event_written_is_logged_once_in_id_order_with_its_deliveries(
    runner, app, client, auth, friends, tmp_path, monkeypatch, session, webhooks
):
    """Each batch's events are logged as it is written, and queued for the webhooks wanting them."""
    _stream_in_small_pieces(monkeypatch)
    # An event of the API's in another group, logged by it; KEN is registered.
    create_group(client, auth, slug="other", name="Other")
    assert accede(client, auth, "KEN", "2025-01-01", group="other").status_code == 201
    if webhooks:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
        for filters in ({}, {"participants": ["KEN"]}):
            body = {"url": "http://127.0.0.1:9/hook", **filters}
            assert client.post("/api/v1/webhooks", json=body, headers=auth).status_code == 201
    lines = _joins_and_leaves(["JPN", "DEU", "KEN", "USA"], 30)
    result = run(runner, write_jsonl(tmp_path / "events.jsonl", lines))
    assert result.exit_code == 0, result.output
    events = session.scalars(select(Event).where(Event.recorded_by == "import")).all()
    assert len(events) == len(lines)
    logged = session.scalars(
        select(Change).where(Change.type == "event.recorded").order_by(Change.id)
    ).all()
    assert [c.event_id for c in logged] == sorted(c.event_id for c in logged)
    mine = [c for c in logged if c.recorded_by == "import"]
    assert [c.event_id for c in mine] == sorted(e.id for e in events)
    by_id = {e.id: e for e in events}
    group_id = session.scalar(select(Group.id).where(Group.slug == "friends"))
    assert all(
        (c.recorded_at, c.group_id, c.instrument_id, c.participant_id)
        == (by_id[c.event_id].recorded_at, group_id, None, by_id[c.event_id].participant_id)
        for c in mine
    )
    assert len({c.txid for c in mine}) == 1
    deliveries = session.execute(
        select(Delivery.webhook_id, Delivery.change_id).order_by(
            Delivery.webhook_id, Delivery.change_id
        )
    ).all()
    if not webhooks:
        assert deliveries == []
        return
    hooks = session.scalars(select(Webhook.id).order_by(Webhook.id)).all()
    kenya = session.scalar(select(Participant.id).where(Participant.code == "KEN"))
    assert deliveries == sorted(
        [(hooks[0], c.id) for c in mine]
        + [(hooks[1], c.id) for c in mine if c.participant_id == kenya]
    )


def test_a_participant_refused_late_in_a_long_file_is_named(
    runner, app, friends, tmp_path, monkeypatch
):
    _stream_in_small_pieces(monkeypatch)
    lines = _joins_and_leaves(["JPN", "FRA", "KEN", "USA"], 16)
    lines.insert(30, {**lines[0], "participant": "NOT-A-COUNTRY"})
    lines.insert(40, {**lines[1], "participant": "not-a-country"})
    lines.append({**lines[-1], "participant": "ZZZ"})
    before = snapshot(app)
    path = write_jsonl(tmp_path / "events.jsonl", lines)
    unknown = "participant: unknown participant: not registered and not an ISO 3166-1 country code"
    for options in [("--dry-run",), ()]:
        result = run(runner, path, *options)
        assert result.exit_code == 1
        assert result.stderr.splitlines()[:-1] == [
            f"line 31: {unknown}",
            f"line 41: {unknown}",
            f"line {len(lines)}: {unknown}",
        ]
    assert snapshot(app) == before


def test_a_database_error_while_streaming_writes_nothing(
    runner, app, friends, tmp_path, monkeypatch
):
    """An error of the server met by the writing thread ends the import, with nothing written."""
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    _stream_in_small_pieces(monkeypatch)

    def same_ids(writer):
        writer.ids = [1] * 100  # every row under one id: the primary key refuses them

    monkeypatch.setattr(writers.CopyWriter, "_take_ids", same_ids)
    before = snapshot(app)
    lines = _joins_and_leaves(["JPN", "FRA", "KEN"], 30)
    result = run(runner, write_jsonl(tmp_path / "events.jsonl", lines))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: database error (UniqueViolation); nothing was written"
    )
    assert snapshot(app) == before


def test_text_is_written_as_given(runner, friends, instrument, tmp_path, monkeypatch, session):
    """Tabs, line breaks, backslashes and other characters reach the database unchanged."""
    _stream_in_small_pieces(monkeypatch)
    texts = ["tab\there", "line\nbreak\r\n", "back\\slash \\N \\t", "\\", "é – 漢字 🙂", "\\.", ""]
    lines = []
    for n, text in enumerate(texts):
        lines.append(
            {
                "type": "accession",
                "group": "friends",
                "participant": ["JPN", "FRA", "KEN", "USA", "CAN", "GBR", "IND"][n],
                "effective_on": "2024-06-01",
                "earliest_on": "2024-05-02" if n % 2 else None,
                "note": text or None,
                "sources": [
                    # A URL holds no backslash (RFC 3986): it comes percent-encoded.
                    {"url": URL + "?q=a%5Cb", "title": text or None, "publisher": text or None},
                    {"url": URL, "published_on": "0999-01-02" if n % 2 else None},
                ],
            }
        )
    lines.append(
        {
            "type": "commitment",
            "instrument": "code",
            "participant": "JPN",
            "effective_on": "2024-06-01",
            "provisions": [3, 1],
            "note": "\t",
        }
    )
    result = run(runner, write_jsonl(tmp_path / "events.jsonl", lines))
    assert result.exit_code == 0, result.output
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [
        (e.note, e.earliest_on and e.earliest_on.isoformat(), e.provisions) for e in events
    ] == [(line.get("note"), line.get("earliest_on"), line.get("provisions")) for line in lines]
    assert [
        [(s.url, s.title, s.publisher, s.published_on, s.reliability) for s in e.sources]
        for e in events
    ] == [
        [
            (
                s["url"],
                s.get("title"),
                s.get("publisher"),
                s.get("published_on") and date.fromisoformat(s["published_on"]),
                "unverified",
            )
            for s in line.get("sources", [])
        ]
        for line in lines
    ]
    assert {e.recorded_by for e in events} == {"import"}
    assert len({e.recorded_at for e in events}) == 1


JSON_TEXTS = [
    '{"a": 1}\n',
    ' \t{"a": [1, 2.5, true, null, "x"]}  \r\n',
    "{}",
    "",
    "\n",
    "\u000b{}\n",
    "\ufeff{}",
    '{"a": 1} x',
    '{"a": 1}{}',
    '{"a": NaN, "b": -Infinity}',
    '{"a": "\\ud800"}',
    '"text"',
    "[1, 2]",
    "12 ",
    "{'a': 1}",
    '{"a": 1,}',
    "[" * 100_000,
]


@pytest.mark.parametrize("text", JSON_TEXTS)
def test_lines_are_decoded_as_json_loads_decodes_them(text):
    def outcome(loads):
        try:
            return "ok", loads(text)
        except (ValueError, RecursionError) as error:
            return "error", type(error) is RecursionError

    value = outcome(files._json_loads)
    assert repr(value) == repr(outcome(json.loads))


def test_the_format_is_sniffed_when_the_extension_says_nothing(tmp_path):
    json_file = tmp_path / "events.txt"
    json_file.write_text('\n  {"type": "accession"}\n', encoding="utf-8")
    csv_file = tmp_path / "events.dat"
    csv_file.write_text("\ufeffgroup,type\n", encoding="utf-8")
    assert file_format(json_file) == "jsonl"
    assert file_format(csv_file) == "csv"
    assert file_format(tmp_path / "x.NDJSON") == "jsonl"


def test_a_csv_header_must_name_known_columns(runner, friends, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("group,type,participant,colour\nfriends,accession,JPN,blue\n", encoding="utf-8")
    result = run(runner, path)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "line 1: colour: unknown column",
        "line 1: effective_on: missing column",
    ]


def test_a_file_that_is_not_utf8_is_refused(runner, app, friends, tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b"group,type,participant,effective_on\nfriends,accession,C\xf4te,2025-01-01\n")
    before = snapshot(app)
    result = run(runner, path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}: line 2: the file is not UTF-8 text; nothing was written\n"
    )
    assert snapshot(app) == before


def test_rows_with_the_wrong_number_of_cells_are_named(runner, friends, tmp_path):
    path = tmp_path / "events.csv"
    text = io.StringIO()
    text.write("group,type,participant,effective_on\n")
    text.write("friends,accession,JPN,2025-01-01\n\n")
    text.write('friends,accession,"FRA\n",2025-01-01,extra\n')
    path.write_text(text.getvalue(), encoding="utf-8")
    result = run(runner, path)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "line 4: row: has 5 cells; the header has 4"


# --- the same validation as the API ---------------------------------------------------------

BODIES = [
    {"participant": "KEN", "effective_on": "2025-06-01"},
    {"participant": "KEN", "effective_on": "2025-06-01", "earliest_on": None, "note": None},
    {"participant": "ke", "effective_on": "2025-06-01", "sources": []},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": [{"url": URL}]},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": [{"url": URL, "x": 1}]},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": [{"url": "x"}] * 21},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": ["x"]},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": {"url": URL}},
    {"participant": "KEN", "effective_on": "2025-06-01", "sources": None},
    {"participant": "KEN", "effective_on": "2025-06-01", "provisions": [1, 3]},
    {"participant": "KEN", "effective_on": "2025-06-01", "provisions": [1.0, 3]},
    {"participant": "KEN", "effective_on": "2025-06-01", "provisions": [True]},
    {"participant": "KEN", "effective_on": "2025-06-01", "provisions": []},
    {"participant": "KEN", "effective_on": "2025-06-01", "provisions": None},
    {"participant": "KEN", "effective_on": 20250601},
    {"participant": ["KEN"], "effective_on": "2025-06-01"},
    {"participant": "K", "effective_on": "2025-06-01", "note": "\x00"},
    {"effective_on": "2025-06-01"},
    {"participant": "KEN", "effective_on": "2025-06-01", "extra": {"a": 1}},
]


@pytest.mark.parametrize(
    "schema_class", [EventCreateSchema, CommitmentCreateSchema, ReportCreateSchema]
)
def test_lines_are_loaded_exactly_as_the_api_loads_bodies(schema_class):
    loader = BodyLoader(schema_class())
    for _ in range(2):  # the second time from what the loader remembers
        for body in BODIES:
            assert _outcome(loader.load, body) == _outcome(schema_class().load, body), body


def _outcome(load, body):
    try:
        return "ok", load(json.loads(json.dumps(body)))
    except ValidationError as error:
        return "error", error.messages
