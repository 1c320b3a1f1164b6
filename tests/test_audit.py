"""The audit trail: every write's entry, who, which request, how it ended, which rows."""

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from friendsgroup import audit
from friendsgroup.db import get_db
from friendsgroup.ingest import files
from friendsgroup.models import AuditEntry, Base

from .support import API, FRIENDS, INSTRUMENT_BODY, SOURCE, assert_problem, create_group, post

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def make_token(runner, name: str, *options: str) -> dict:
    result = runner.invoke(args=["token", "create", name, *options])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.splitlines()[0]}"}


def read_audit(client, headers: dict, **params) -> list[dict]:
    """Every entry, following the cursor."""
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"{API}/audit", query_string=query, headers=headers)
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


def assert_rows_exist(app, entry: dict) -> int:
    """Every row an entry names exists (retracted ones are marked so); the number named."""
    named = 0
    tables = Base.metadata.tables
    with get_db(app).transaction(write=False) as session:
        for verb, by_table in (entry["rows"] or {}).items():
            for name, runs in by_table.items():
                table = tables[name]
                for first, last in runs:
                    found = session.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.id.between(first, last))
                    )
                    assert found == last - first + 1, (entry, name, first, last)
                    if verb == "retracted":
                        marked = session.scalar(
                            select(func.count())
                            .select_from(table)
                            .where(
                                table.c.id.between(first, last), table.c.retracted_at.isnot(None)
                            )
                        )
                        assert marked == found
                    named += found
    return named


def write_import(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(files.CSV_COLUMNS))
        writer.writeheader()
        for code in ("JPN", "FRA", "DEU"):
            writer.writerow(
                {
                    "group": "friends",
                    "type": "accession",
                    "participant": code,
                    "effective_on": "2025-03-01",
                    "source_url": SOURCE["url"],
                    "source_reliability": "official",
                }
            )
    return path


def test_a_scripted_sequence_is_audited_change_by_change(app, client, auth, runner, tmp_path):
    # API writes by the unscoped token and by a group-scoped one.
    create_group(client, auth)
    ministry = make_token(runner, "ministry", "--scope", "groups:friends:write")
    kenya = post(
        client,
        "/groups/friends/accessions",
        {"participant": "KEN", "effective_on": "2025-06-01"},
        {**ministry, "X-Request-Id": "kenya-1", "Idempotency-Key": "k-1"},
    )
    assert kenya.status_code == 201
    assert kenya.headers["X-Request-Id"] == "kenya-1"
    # A refused write (outside the token's scope).
    refused = post(client, "/groups", {**FRIENDS, "slug": "other"}, ministry)
    assert_problem(refused, 403, "insufficient-scope")
    # An import by a named person, the seeds, and a retraction.
    imported = runner.invoke(
        args=["import", str(write_import(tmp_path / "e.csv")), "--by", "alice"]
    )
    assert imported.exit_code == 0, imported.output
    seeded = runner.invoke(args=["seed", "--path", str(SEEDS)])
    assert seeded.exit_code == 0, seeded.output
    retraction = post(client, f"/events/{kenya.json['id']}/retraction", {"reason": "typo"}, auth)
    assert retraction.status_code == 200

    entries = read_audit(client, auth, limit=2)
    assert [(e["by"], e["action"].split(" ")[0], e["outcome"]) for e in entries] == [
        ("secretariat", "POST", "success"),
        (entries[1]["by"], "token", "success"),
        ("ministry", "POST", "success"),
        ("ministry", "POST", "refused"),
        ("alice", "import", "success"),
        (entries[-2]["by"], "seed", "success"),
        ("secretariat", "POST", "success"),
    ]
    assert all(e["request_id"] and e["by"] for e in entries)
    group, token, accession, no, by_alice, seed, retracted = entries
    assert token["by"].startswith("cli") and token["rows"]["created"].keys() == {"api_tokens"}

    assert group["rows"]["created"].keys() == {"groups"}
    assert accession["request_id"] == "kenya-1"
    assert accession["idempotency_key"] == "k-1"
    assert accession["action"] == "POST /api/v1/groups/friends/accessions"
    assert accession["status"] == 201
    assert accession["rows"]["created"]["events"] == [[kenya.json["id"], kenya.json["id"]]]
    assert (no["status"], no["problem"], no["rows"]) == (403, "insufficient-scope", None)
    assert no["request_id"] == refused.headers["X-Request-Id"]
    assert by_alice["action"].endswith("e.csv") and by_alice["status"] is None
    assert assert_rows_exist(app, by_alice) == 3
    assert seed["rows"]["created"]["events"] and seed["rows"]["created"]["groups"]
    assert retracted["rows"] == {"retracted": {"events": [[kenya.json["id"]] * 2]}}
    for entry in entries:
        assert_rows_exist(app, entry)
    # The seeds' events are named to the last one.
    with get_db(app).transaction(write=False) as session:
        seed_events = session.scalar(
            select(func.count()).where(Base.metadata.tables["events"].c.recorded_by == "seed")
        )
    assert sum(b - a + 1 for a, b in seed["rows"]["created"]["events"]) == seed_events


def test_the_audit_filters_by_actor_outcome_and_time(client, auth, runner):
    create_group(client, auth)
    ministry = make_token(runner, "ministry", "--scope", "audit:read")
    post(client, "/groups", {**FRIENDS, "slug": "nope"}, ministry)
    everything = read_audit(client, auth)
    assert [e["by"] for e in read_audit(client, auth, by="ministry")] == ["ministry"]
    assert [e["outcome"] for e in read_audit(client, auth, outcome="refused")] == ["refused"]
    middle = everything[-1]["at"]
    assert [e["id"] for e in read_audit(client, auth, since=middle)] == [everything[-1]["id"]]
    assert everything[-1]["id"] not in [e["id"] for e in read_audit(client, auth, until=middle)]
    assert_problem(client.get(f"{API}/audit?outcome=maybe", headers=auth), 422, field="outcome")
    assert_problem(client.get(f"{API}/audit?cursor=zzz", headers=auth), 422, field="cursor")


def test_reading_the_audit_needs_audit_read(client, auth, runner):
    create_group(client, auth)
    writer = make_token(runner, "writer", "--scope", "write")
    reader = make_token(runner, "reader", "--scope", "audit:read")
    response = client.get(f"{API}/audit", headers=writer)
    assert_problem(response, 403, "insufficient-scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert_problem(client.get(f"{API}/audit"), 401, "unauthorized")
    assert client.get(f"{API}/audit", headers=reader).status_code == 200
    # audit:read alone writes nothing.
    assert_problem(post(client, "/groups", {**FRIENDS, "slug": "x"}, reader), 403)


def test_an_unauthenticated_write_is_audited_without_an_actor(client, auth):
    response = post(client, "/groups", FRIENDS, {"Authorization": "Bearer nope"})
    assert_problem(response, 401)
    [entry] = read_audit(client, auth)
    assert (entry["by"], entry["status"], entry["problem"]) == (None, 401, "unauthorized")


def test_a_commitment_is_named_with_its_sources_as_written(app, client, auth):
    assert post(client, "/instruments", INSTRUMENT_BODY, auth).status_code == 201
    sources = [SOURCE, {"url": "https://example.org/2", "published_on": "2024-02-08"}]
    body = {"participant": "JPN", "effective_on": "2024-02-07", "sources": sources}
    answer = post(client, "/instruments/code/commitments", body, auth)
    assert answer.status_code == 201, answer.json
    assert answer.json["sources"] == client.get(f"{API}/events/{answer.json['id']}").json["sources"]
    assert [s["url"] for s in answer.json["sources"]] == [s["url"] for s in sources]
    assert answer.json["sources"][1]["reliability"] == "unverified"
    entry = read_audit(client, auth)[-1]
    assert entry["rows"] == {"created": {"events": [[answer.json["id"]] * 2]}}
    assert assert_rows_exist(app, entry) == 1


def test_the_audit_is_csv_too(client, auth):
    create_group(client, auth)
    response = client.get(f"{API}/audit?format=csv", headers=auth)
    assert response.status_code == 200
    header, row = list(csv.reader(response.get_data(as_text=True).splitlines()))
    assert header[:3] == ["id", "at", "by"]
    assert row[header.index("rows")].startswith('{"created"')


@pytest.mark.parametrize("given", ["x" * 129, "two words", "tab\there", "caf\u00e9", ""])
def test_a_bad_request_id_is_replaced(client, given):
    response = client.get(f"{API}/groups", headers={"X-Request-Id": given})
    assert response.headers["X-Request-Id"] != given
    assert len(response.headers["X-Request-Id"]) == 32


def test_every_response_carries_a_request_id(client):
    assert (
        client.get(f"{API}/groups", headers={"X-Request-Id": "a" * 128}).headers["X-Request-Id"]
        == "a" * 128
    )
    assert client.get("/nowhere").headers["X-Request-Id"]
    first = client.get(f"{API}/groups").headers["X-Request-Id"]
    assert first != client.get(f"{API}/groups").headers["X-Request-Id"]


def test_cli_audit_prints_and_filters(client, auth, runner):
    create_group(client, auth)
    make_token(runner, "ministry", "--scope", "audit:read")
    result = runner.invoke(args=["audit", "--by", "secretariat"])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    cells = line.split("\t")
    assert cells[1:4] == ["secretariat", cells[2], "POST /api/v1/groups"]
    assert cells[4] == "success 201" and cells[5].startswith("created groups ")
    everything = runner.invoke(args=["audit"]).stdout.splitlines()
    assert "token create ministry" in everything[-1]
    assert "created api_tokens" in everything[-1]
    assert runner.invoke(args=["audit", "--since", "2999-01-01T00:00:00Z"]).stdout == ""
    assert runner.invoke(args=["audit", "--since", "yesterday"]).exit_code == 2


def test_a_refused_import_is_audited(runner, client, auth, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("group,type\nnowhere,accession\n", encoding="utf-8")
    assert runner.invoke(args=["import", str(bad), "--by", "bob"]).exit_code == 1
    [entry] = read_audit(client, auth)
    assert (entry["by"], entry["outcome"], entry["rows"]) == ("bob", "refused", None)


def test_audit_entries_are_never_changed(app):
    with get_db(app).transaction() as session:
        audit.record(session, by="x", action="test")
    with pytest.raises(ValueError, match="never changed"):
        with get_db(app).transaction() as session:
            entry = session.scalars(select(AuditEntry)).one()
            entry.by = "someone else"
            session.flush()
    with pytest.raises(ValueError, match="never changed"):
        with get_db(app).transaction() as session:
            session.delete(session.scalars(select(AuditEntry)).one())
            session.flush()


def test_a_restore_names_its_rows_in_one_call(app):
    with get_db(app).transaction() as session:
        entry = audit.record(
            session,
            by="operator",
            action="restore dump.jsonl",
            rows={"created": {"events": [[5, 9], [1, 4]]}},
        )
    assert entry["rows"] == {"created": {"events": [[1, 9]]}}


def test_ranges_join_consecutive_ids():
    assert audit.ranges([5, 1, 2, 3, 9]) == [[1, 3], [5, 5], [9, 9]]
    assert audit.merge_ranges([[1, 2], [2, 5], [7, 8]]) == [[1, 5], [7, 8]]
