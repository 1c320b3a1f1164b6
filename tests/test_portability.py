"""Dump, restore, copy and backup: the registry moves between SQLite and PostgreSQL and is
backed up live without losing an id, a ``recorded_at``, a retraction or a supersession."""

import hashlib
import json
import os
import subprocess
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from friendsgroup.db import get_db
from friendsgroup.migrate import model_differences, upgrade
from friendsgroup.models import Base, Event, Group
from friendsgroup.portability import writers
from friendsgroup.timeutil import isoformat_z, utcnow
from friendsgroup.tokens import create_token
from tests.conftest import TEST_DATABASE_URL, _fresh_postgres_database, _worker
from tests.support import (
    API,
    INSTRUMENT_BODY,
    SOURCE,
    accede,
    analysed_tables,
    console_script,
    create_group,
    running_server,
    withdraw,
)

POSTGRES_BASE = TEST_DATABASE_URL or "postgresql+psycopg://root@127.0.0.1:5432/friendsgroup_test"


# --- databases --------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    """Migrated, empty SQLite databases, as many as asked for."""
    made = iter(range(100))

    def make() -> str:
        url = f"sqlite:///{tmp_path / f'registry{next(made)}.sqlite3'}"
        upgrade(url)
        return url

    return make


@pytest.fixture
def postgres_url():
    """A migrated, empty PostgreSQL database (the test skips only if none is reachable)."""
    probe = create_engine(POSTGRES_BASE.rsplit("/", 1)[0] + "/postgres")
    try:
        with probe.connect():
            pass
    except OperationalError:
        pytest.skip("PostgreSQL is unreachable")
    finally:
        probe.dispose()
    url = _fresh_postgres_database(POSTGRES_BASE, f"{_worker()}_portable")
    upgrade(url)
    return url


@pytest.fixture
def blank(blank_database_factory, make_app):
    """An app on a migrated, empty database of the kind under test."""

    def make():
        url = blank_database_factory()
        upgrade(url)
        return make_app(DATABASE_URL=url, TESTING=True)

    return make


def row_counts(session) -> dict[str, int]:
    """Rows in every table of the models, the audit trail's included."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def auth_for(application) -> dict:
    with get_db(application).transaction() as session:
        return {"Authorization": f"Bearer {create_token(session, 'curator')}"}


def cli(application, *args):
    return application.test_cli_runner().invoke(args=list(args))


def dump(application, path: Path, *options) -> list[str]:
    """Dump to ``path`` with the CLI; the file's lines."""
    result = cli(application, "dump", str(path), *options)
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8").splitlines()


def without_created_at(lines: list[str]) -> list:
    header = json.loads(lines[0])
    assert header.pop("created_at").endswith("Z")
    return [header, *lines[1:]]


# --- a registry with every kind of fact -------------------------------------------------------


def build_registry(client, auth) -> list[str]:
    """Withdrawals, re-accessions, uncertain dates, partial commitments, reports, retractions,
    corrections, announcements, a region and organisations; the instants to travel back to."""

    def post(path, body, status=201):
        response = client.post(f"{API}{path}", json=body, headers=auth)
        assert response.status_code == status, response.get_json()
        return response.get_json()

    create_group(client, auth)
    create_group(client, auth, slug="partners", name="Partners", member_kinds=["organisation"])
    post("/instruments", INSTRUMENT_BODY)
    post("/participants", {"code": "EU", "name": "European Union", "kind": "region"})
    for code in ("ACME", "BETA"):
        post("/participants", {"code": code, "name": code.title(), "kind": "organisation"})
    for body in (
        {"as_of": "2024-05-02", "count": 49, "source": SOURCE},
        {"as_of": "2024-10-01", "count": 55, "source": {**SOURCE, "reliability": "reported"}},
        {"as_of": "2024-10-01", "count": 54, "source": {**SOURCE, "reliability": "unverified"}},
    ):
        post("/groups/friends/announcements", body)
    instants = []
    for code, on in (("JPN", "2024-05-02"), ("EU", "2024-05-02"), ("KEN", "2024-06-10")):
        assert accede(client, auth, code, on).status_code == 201
    france = accede(client, auth, "FRA", "2024-07-01", note='tab\there, quote " and é').json
    assert withdraw(client, auth, "KEN", "2024-09-05").status_code == 201
    vietnam = accede(client, auth, "VNM", "2024-12-02", earliest_on="2024-05-02").json
    instants.append(accede(client, auth, "KEN", "2024-11-20").json["recorded_at"])
    post(f"/events/{france['id']}/retraction", {"reason": "not a member"}, 200)
    instants.append(
        post(
            f"/events/{vietnam['id']}/correction",
            {"reason": "a dated source", "effective_on": "2024-11-01", "sources": [SOURCE]},
        )["recorded_at"]
    )
    assert accede(client, auth, "ACME", "2024-06-01", group="partners").status_code == 201
    post(
        "/instruments/code/commitments",
        {"participant": "ACME", "effective_on": "2025-02-07", "provisions": [1, 3]},
    )
    post("/instruments/code/commitments", {"participant": "JPN", "effective_on": "2025-03-01"})
    post(
        "/instruments/code/reports",
        {"participant": "JPN", "effective_on": "2025-04-30", "sources": [SOURCE, SOURCE]},
    )
    beta = post(
        "/instruments/code/commitments",
        {"participant": "BETA", "effective_on": "2025-02-10", "provisions": [2]},
    )
    post(f"/events/{beta['id']}/correction", {"reason": "scope", "provisions": [2, 3]})
    post("/instruments/code/withdrawals", {"participant": "BETA", "effective_on": "2025-04-01"})
    year_end = {"as_of": "2025-01-01", "count": 58, "source": SOURCE, "note": "year end"}
    instants.append(post("/groups/friends/announcements", year_end)["recorded_at"])
    # After every write: what the registry knows now, pinned so that later reports agree.
    instants.append(isoformat_z(utcnow()))
    return instants


REPORT_DAYS = ("2024-05-02", "2024-09-30", "2024-11-15", "2025-03-31", "2025-06-30")


def reports(application, instants: list[str]) -> dict:
    """Members, counts and instrument reports at several ``as_of`` and ``known_at``."""
    client = application.test_client()
    answers = {}
    for known_at in instants:
        moment = f"&known_at={known_at}"
        for day in REPORT_DAYS:
            for path in (
                f"/groups/friends/members?as_of={day}",
                f"/groups/partners/members?as_of={day}",
                f"/instruments/code/participants?as_of={day}",
            ):
                answers[path + moment] = client.get(f"{API}{path}{moment}").get_json()
        for path in (
            "/groups/friends/counts?from=2024-05-01&to=2025-06-30&interval=month",
            "/instruments/code/counts?from=2025-01-01&to=2025-06-30&interval=month",
            "/groups/friends/announcements",
            "/groups/friends/events?limit=100",
        ):
            answers[path + moment] = client.get(f"{API}{path}{moment}").get_json()
    return answers


# --- the round trip ---------------------------------------------------------------------------


def test_sqlite_to_postgresql_to_sqlite_keeps_every_fact(
    tmp_path, make_app, sqlite_url, postgres_url
):
    source = make_app(DATABASE_URL=sqlite_url(), TESTING=True)
    instants = build_registry(source.test_client(), auth_for(source))
    first = dump(source, tmp_path / "sqlite.jsonl")

    postgres = make_app(DATABASE_URL=postgres_url, TESTING=True)
    restored = cli(postgres, "restore", str(tmp_path / "sqlite.jsonl"))
    assert restored.exit_code == 0, restored.output
    second = dump(postgres, tmp_path / "postgres.jsonl")

    again = make_app(DATABASE_URL=sqlite_url(), TESTING=True)
    assert cli(again, "restore", str(tmp_path / "postgres.jsonl")).exit_code == 0
    third = dump(again, tmp_path / "again.jsonl")

    assert without_created_at(first) == without_created_at(second) == without_created_at(third)
    header = json.loads(first[0])
    counts = {table["name"]: table["rows"] for table in header["tables"]}
    with get_db(source).transaction(write=False) as session:
        in_source = row_counts(session)
    assert counts == {name: n for name, n in in_source.items() if name not in header["left_out"]}
    assert counts["events"] == 15 and set(header["left_out"]) == {
        "api_tokens",
        "idempotency_keys",
        "webhooks",
        "deliveries",
        "delivery_attempts",
    }
    expected = reports(source, instants)
    assert reports(postgres, instants) == expected
    assert reports(again, instants) == expected

    # New writes on PostgreSQL take ids above every restored one.
    auth = auth_for(postgres)
    client = postgres.test_client()
    with get_db(postgres).transaction(write=False) as session:
        top_event = session.scalar(select(func.max(Event.id)))
        top_group = session.scalar(select(func.max(Group.id)))
    fresh = accede(client, auth, "DEU", "2025-05-05")
    assert fresh.status_code == 201, fresh.json
    assert fresh.json["id"] > top_event
    create_group(client, auth, slug="third", name="Third")
    with get_db(postgres).transaction(write=False) as session:
        assert session.scalar(select(Group.id).where(Group.slug == "third")) > top_group


def test_db_copy_moves_the_registry_in_one_step(tmp_path, app, client, auth, sqlite_url):
    build_registry(client, auth)
    target = sqlite_url()
    result = cli(app, "db", "copy", "--to", target)
    assert result.exit_code == 0, result.output
    from friendsgroup import create_app

    copied = create_app({"DATABASE_URL": target, "TESTING": True})
    try:
        assert without_created_at(dump(copied, tmp_path / "copy.jsonl")) == without_created_at(
            dump(app, tmp_path / "original.jsonl")
        )
    finally:
        get_db(copied).dispose()


def test_a_restore_into_sqlite_leaves_its_planner_statistics(app, client, auth, sqlite_url):
    build_registry(client, auth)
    target = sqlite_url()
    assert cli(app, "db", "copy", "--to", target).exit_code == 0
    engine = create_engine(target)
    try:
        assert {"events", "changes", "participants", "sources"} <= analysed_tables(engine)
    finally:
        engine.dispose()


def test_db_copy_refuses_an_unmigrated_target(app, tmp_path):
    result = cli(app, "db", "copy", "--to", f"sqlite:///{tmp_path / 'bare.sqlite3'}")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and "db upgrade" in result.stderr


# --- the file ---------------------------------------------------------------------------------


def test_the_dump_is_deterministic_and_holds_no_secret(tmp_path, app, client, auth, token):
    build_registry(client, auth)
    first = dump(app, tmp_path / "one.jsonl")
    second = dump(app, tmp_path / "two.jsonl")
    assert without_created_at(first) == without_created_at(second)
    header = json.loads(first[0])
    assert (header["format"], header["version"]) == ("friendsgroup-dump", 1)
    assert set(header["left_out"]) == {
        "api_tokens",
        "idempotency_keys",
        "webhooks",
        "deliveries",
        "delivery_attempts",
    }
    text_ = "\n".join(first)
    assert token not in text_ and hashlib.sha256(token.encode()).hexdigest() not in text_

    with_tokens = dump(app, tmp_path / "tokens.jsonl", "--include-tokens")
    assert token not in "\n".join(with_tokens)
    tables = [table["name"] for table in json.loads(with_tokens[0])["tables"]]
    assert "api_tokens" in tables and "idempotency_keys" not in tables


def test_tokens_dumped_on_request_keep_working_after_a_restore(tmp_path, app, token, blank):
    dump(app, tmp_path / "tokens.jsonl", "--include-tokens")
    target = blank()
    assert cli(target, "restore", str(tmp_path / "tokens.jsonl")).exit_code == 0
    headers = {"Authorization": f"Bearer {token}"}
    assert create_group(target.test_client(), headers)["slug"] == "friends"


def test_dump_to_stdout(app, client, auth):
    create_group(client, auth)
    result = cli(app, "dump")
    assert result.exit_code == 0
    lines = result.stdout_bytes.decode().splitlines()
    assert json.loads(lines[0])["format"] == "friendsgroup-dump"
    assert json.loads(lines[-1])["end"] is True
    assert [json.loads(line) for line in lines].count({"table": "groups"}) == 1


def test_restored_instants_and_supersessions_are_the_originals(tmp_path, app, client, auth, blank):
    build_registry(client, auth)
    dump(app, tmp_path / "registry.jsonl")
    target = blank()
    assert cli(target, "restore", str(tmp_path / "registry.jsonl")).exit_code == 0
    columns = "id, recorded_at, recorded_by, retracted_at, retraction_reason, supersedes_id"
    query = text(f"SELECT {columns} FROM events ORDER BY id")

    def events(application):
        with get_db(application).transaction(write=False) as session:
            return [
                (row[0], *[str(v) if v is not None else None for v in row[1:]])
                for row in session.execute(query)
            ]

    original = events(app)
    assert events(target) == original
    assert any(row[5] for row in original) and any(row[3] for row in original)
    # The keys and indexes set aside while the rows were loaded are all back.
    assert model_differences(get_db(target).engine) == []


def test_a_corrected_event_keeps_its_place_among_its_same_day_peers(
    tmp_path, app, client, auth, blank
):
    """A correction keeps the place of the event it replaces: its id alone would put it after
    the withdrawal of the same day, a history the registry never had, and refuse the dump."""
    create_group(client, auth)
    joined = accede(client, auth, "JPN", "2024-05-02").get_json()
    left = withdraw(client, auth, "JPN", "2024-05-02").get_json()
    correction = {"reason": "the depositary's wording", "note": "joined and left at once"}
    fixed = client.post(f"{API}/events/{joined['id']}/correction", json=correction, headers=auth)
    assert fixed.status_code == 201, fixed.get_json()
    assert accede(client, auth, "JPN", "2024-06-01").status_code == 201
    original = dump(app, tmp_path / "registry.jsonl")
    target = blank()
    result = cli(target, "restore", str(tmp_path / "registry.jsonl"))
    assert result.exit_code == 0, result.output
    assert without_created_at(dump(target, tmp_path / "again.jsonl")) == without_created_at(
        original
    )
    # And the restored registry takes the writes the original would.
    assert withdraw(target.test_client(), auth_for(target), "JPN", "2024-07-01").status_code == 201
    # The participant's history lists the day as it happened: the retracted accession, its
    # correction in its place, then the withdrawal.
    listed = json.loads(cli(app, "participant", "history", "JPN", "--format", "json").output)
    first_day = [
        (e["id"], e["type"]) for e in listed["events"] if e["effective_on"] == "2024-05-02"
    ]
    assert first_day == [
        (joined["id"], "accession"),
        (fixed.get_json()["id"], "accession"),
        (left["id"], "withdrawal"),
    ]


def test_instants_at_another_offset_are_restored_in_utc(tmp_path, app, client, auth, blank):
    create_group(client, auth)
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
    lines = dump(app, tmp_path / "registry.jsonl")
    column = _event_column("recorded_at")
    two_hours_east = timezone(timedelta(hours=2))

    def east(row: list) -> list:
        moment = datetime.fromisoformat(row[column]).astimezone(two_hours_east)
        return [*row[:column], moment.isoformat(), *row[column + 1 :]]

    edited = rewrite(lines, lambda body: _edit_events(body, east))
    assert "+02:00" in "".join(edited)
    (tmp_path / "east.jsonl").write_text(file_text(edited), encoding="utf-8")
    target = blank()
    restored = cli(target, "restore", str(tmp_path / "east.jsonl"))
    assert restored.exit_code == 0, restored.output
    again = dump(target, tmp_path / "again.jsonl")
    assert without_created_at(again) == without_created_at(lines)


def test_tables_of_other_column_types_are_copied_as_text(
    tmp_path, app, client, auth, blank, monkeypatch
):
    build_registry(client, auth)
    lines = dump(app, tmp_path / "registry.jsonl")
    # As if no column had a type binary COPY writes: every table goes the text way.
    monkeypatch.setattr(writers, "_BINARY_TYPES", {kind: set() for kind in writers._BINARY_TYPES})
    target = blank()
    restored = cli(target, "restore", str(tmp_path / "registry.jsonl"))
    assert restored.exit_code == 0, restored.output
    assert without_created_at(dump(target, tmp_path / "again.jsonl")) == without_created_at(lines)


# --- refusals ---------------------------------------------------------------------------------


def rewrite(lines: list[str], change) -> list[str]:
    """Apply ``change`` to the body and re-seal the closing line, as a careful editor would."""
    body = change(lines[1:-1])
    digest = hashlib.sha256("".join(line + "\n" for line in body).encode()).hexdigest()
    closing = json.loads(lines[-1])
    closing["sha256"] = digest
    closing["rows"] = sum(1 for line in body if line.startswith("["))
    return [lines[0], *body, json.dumps(closing)]


def file_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def replace_in_body(old: str, new: str):
    return lambda lines: file_text(rewrite(lines, lambda body: [b.replace(old, new) for b in body]))


def _accession_turned_withdrawal(body: list[str]) -> list[str]:
    """KEN's re-accession becomes a second withdrawal in a row: a broken alternation."""
    edited, done = [], False
    for line in body:
        if not done and line.startswith("[") and '"accession"' in line and '"2024-11-20"' in line:
            line, done = line.replace('"accession"', '"withdrawal"'), True
        edited.append(line)
    assert done
    return edited


def _edit_events(body: list[str], change) -> list[str]:
    """Apply ``change`` to the events' rows (as lists), the other lines as they are."""
    edited, table = [], None
    for line in body:
        value = json.loads(line)
        if isinstance(value, dict):
            table = value.get("table")
        elif table == "events":
            line = json.dumps(change(value), separators=(",", ":"))
        edited.append(line)
    return edited


def _event_column(name: str) -> int:
    return [column.name for column in Event.__table__.columns].index(name)


def _supersede_twice(body: list[str]) -> list[str]:
    """Every event claims to supersede event 1: a uniqueness the database keeps."""
    column = _event_column("supersedes_id")
    return _edit_events(body, lambda row: [*row[:column], 1, *row[column + 1 :]])


def _participant_nobody_is(body: list[str]) -> list[str]:
    """An event of a participant that no row holds: a foreign key the database keeps."""
    column = _event_column("participant_id")
    return _edit_events(body, lambda row: [*row[:column], 999_999, *row[column + 1 :]])


def _participant_past_four_bytes(body: list[str]) -> list[str]:
    """Participant ids 2**32 above real ones: too large for their column, whatever they wrap to."""
    column = _event_column("participant_id")
    return _edit_events(body, lambda row: [*row[:column], row[column] + 2**32, *row[column + 1 :]])


def _header(lines: list[str], **changes) -> str:
    return file_text([json.dumps({**json.loads(lines[0]), **changes}), *lines[1:]])


REFUSALS = {
    "truncated": (lambda lines: file_text(lines[: len(lines) // 2]), "it is truncated"),
    "cut mid-line": (lambda lines: file_text(lines)[:-20], "the file is truncated"),
    "edited against a rule": (
        lambda lines: file_text(rewrite(lines, _accession_turned_withdrawal)),
        "the dump breaks the rules of history",
    ),
    "edited, not re-sealed": (
        lambda lines: file_text([lines[0], *_accession_turned_withdrawal(lines[1:-1]), lines[-1]]),
        "the digest does not match",
    ),
    "version 99": (lambda lines: _header(lines, version=99), "format version 99 is not supported"),
    "another schema revision": (
        lambda lines: _header(lines, revision="0123abcd"),
        "the dump is of schema revision 0123abcd",
    ),
    "not a dump": (lambda lines: '{"hello": "world"}\n', "not a friendsgroup dump"),
    "a bad date": (replace_in_body('"2024-06-10"', '"2024-06-31"'), "is not a date"),
    "a uniqueness broken": (
        lambda lines: file_text(rewrite(lines, _supersede_twice)),
        "events: the database refused a row",
    ),
    "a key to nothing": (
        lambda lines: file_text(rewrite(lines, _participant_nobody_is)),
        "events: the database refused a row",
    ),
    "an integer out of range": (
        lambda lines: file_text(rewrite(lines, _participant_past_four_bytes)),
        "events: the database refused a row",
    ),
    "a row after the closing line": (
        lambda lines: file_text([*lines, next(line for line in lines if line.startswith("["))]),
        "a line after the closing line",
    ),
    "junk after the closing line": (
        lambda lines: file_text([*lines, "not json"]),
        "a line after the closing line",
    ),
    "an unknown table": (
        replace_in_body('{"table":"sources"}', '{"table":"secrets"}'),
        "table 'secrets' where sources was due",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_restore_refuses_a_bad_file_and_writes_nothing(tmp_path, app, client, auth, blank, case):
    build_registry(client, auth)
    lines = dump(app, tmp_path / "good.jsonl")
    change, reason = REFUSALS[case]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(change(lines), encoding="utf-8")
    target = blank()
    result = cli(target, "restore", str(bad))
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and reason in result.stderr, result.stderr
    with get_db(target).transaction(write=False) as session:
        assert set(row_counts(session).values()) == {0}
    assert model_differences(get_db(target).engine) == []


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, app, client, auth, blank):
    build_registry(client, auth)
    dump(app, tmp_path / "registry.jsonl")
    target = blank()
    create_group(target.test_client(), auth_for(target), slug="already", name="Already here")
    with get_db(target).transaction(write=False) as session:
        before = row_counts(session)
    result = cli(target, "restore", str(tmp_path / "registry.jsonl"))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the database is not empty (")
    assert line.endswith(" has rows): restore only into a new, migrated database")
    with get_db(target).transaction(write=False) as session:
        assert row_counts(session) == before


def test_restore_refuses_an_unmigrated_database(tmp_path, app, blank_database_factory, make_app):
    dump(app, tmp_path / "registry.jsonl")
    target = make_app(DATABASE_URL=blank_database_factory(), TESTING=True)
    result = cli(target, "restore", str(tmp_path / "registry.jsonl"))
    assert result.exit_code == 1 and "run 'friendsgroup db upgrade' first" in result.stderr


# --- backups ----------------------------------------------------------------------------------


def test_a_backup_restores_to_the_same_registry(tmp_path, app, client, auth, blank):
    instants = build_registry(client, auth)
    result = cli(app, "backup", str(tmp_path / "registry.backup"))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "registry.backup.partial").exists()
    target = blank()
    restored = cli(target, "restore", str(tmp_path / "registry.backup"))
    assert restored.exit_code == 0, restored.output
    assert reports(target, instants) == reports(app, instants)


WRITERS = 8


def test_a_live_backup_holds_every_write_answered_before_it(tmp_path, make_app, sqlite_url):
    url = sqlite_url()
    live = make_app(DATABASE_URL=url, TESTING=True)
    auth = auth_for(live)
    create_group(live.test_client(), auth)
    get_db(live).dispose()
    answered: list[tuple[float, int]] = []
    failures: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def writer(n: int, base_url: str) -> None:
        """Accessions and withdrawals of its own countries, alternating, until told to stop."""
        http = requests.Session()
        http.headers.update(auth)
        code = ("FRA", "DEU", "ITA", "ESP", "GBR", "USA", "CAN", "JPN")[n]
        day, kind = date(2024, 6, 1), "accession"
        while not stop.is_set():
            day += timedelta(days=1)
            response = http.post(
                f"{base_url}{API}/groups/friends/{kind}s",
                json={"participant": code, "effective_on": day.isoformat()},
                timeout=30,
            )
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
                return
            with lock:
                answered.append((time.monotonic(), response.json()["id"]))
            kind = "withdrawal" if kind == "accession" else "accession"

    backup = tmp_path / "live.backup"
    with running_server(url, tmp_path, workers=3) as server:
        threads = [threading.Thread(target=writer, args=(n, server.url)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            while len(answered) < 80 and not failures:
                time.sleep(0.05)
            started = time.monotonic()
            done = subprocess.run(
                [console_script("friendsgroup"), "backup", str(backup)],
                env={**os.environ, "DATABASE_URL": url},
                capture_output=True,
                text=True,
                timeout=120,
            )
            count_at_end = len(answered)
            while len(answered) < count_at_end + 40 and not failures:
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert not failures, failures[:3]
    assert done.returncode == 0, done.stderr
    before = {event_id for at, event_id in answered if at < started}
    assert len(before) >= 80

    target = make_app(DATABASE_URL=sqlite_url(), TESTING=True)
    restored = cli(target, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    with get_db(target).transaction(write=False) as session:
        kept = set(session.scalars(select(Event.id)))
    assert before <= kept
    assert kept <= {event_id for _, event_id in answered}
