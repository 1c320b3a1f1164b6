"""The foundation: factory, probes, the OpenAPI document and the write contract."""

import sqlite3
import time

import pytest
import requests
from sqlalchemy import func, make_url, select

from friendsgroup.db import SQLITE_CACHE_KIB, get_db
from friendsgroup.models import Event
from tests.support import (
    accede,
    analysed_tables,
    assert_problem,
    create_group,
    row_counts,
    running_server,
)


def test_a_sqlite_registry_busy_with_a_writer_is_served_without_new_statistics(
    app, database_url, tmp_path
):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's autovacuum gathers its own statistics")
    # Another process writing (a long import) holds SQLite's write lock all along.
    writer = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with running_server(database_url, tmp_path, workers=1) as server:
            # Ready while the lock is still held, and long before the 30 s a command waits.
            assert time.monotonic() - started < 10
            assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
            server.process.terminate()
            server.process.wait(timeout=15)
            log = server.log()
    finally:
        writer.close()
    assert "note: the query planner's statistics were not refreshed (database is locked)" in log


def test_every_sqlite_connection_keeps_its_settings(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's settings")
    engine = get_db(app).engine
    engine.dispose()  # each new connection, not one set up earlier
    with engine.connect() as connection:
        setting = connection.connection.driver_connection.execute

        assert setting("PRAGMA foreign_keys").fetchone() == (1,)
        assert setting("PRAGMA journal_mode").fetchone() == ("wal",)
        assert setting("PRAGMA synchronous").fetchone() == (2,)  # FULL
        # In KiB when negative: larger than SQLite's 2 MiB, so a report's pages stay.
        assert setting("PRAGMA cache_size").fetchone() == (-SQLITE_CACHE_KIB,)


def test_a_sqlite_read_session_sees_one_state_of_the_registry(app, client, auth, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL reads at READ COMMITTED: each statement sees its own snapshot")
    # A write committed between two reads of one session is not seen by the second: the
    # reader's own BEGIN (SQLite's driver is left in autocommit) makes the session one
    # transaction, whose first read fixes its snapshot.
    create_group(client, auth)
    database = get_db(app)
    events = select(func.count()).select_from(Event)
    reader = database.session(write=False)
    try:
        before = reader.scalar(events)
        assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
        assert reader.scalar(events) == before
    finally:
        reader.close()
    with database.session(write=False) as fresh:
        assert fresh.scalar(events) == before + 1


def test_the_pool_hands_out_the_connection_returned_last(app):
    # What a connection keeps warm (SQLite's page cache, prepared statements) serves the next
    # request only if the pool does not rotate through its connections.
    engine = get_db(app).engine
    engine.dispose()
    first, second = engine.connect(), engine.connect()
    used_first = first.connection.driver_connection
    used_last = second.connection.driver_connection
    first.close()
    second.close()
    with engine.connect() as again:
        assert again.connection.driver_connection is used_last
        assert again.connection.driver_connection is not used_first


def test_create_app_takes_overrides(make_app, database_url):
    app = make_app(DATABASE_URL=database_url, MAX_CONTENT_LENGTH=1234)
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.config["DATABASE_URL"] == database_url


def test_serving_a_sqlite_registry_gathers_its_planner_statistics(
    app, client, auth, database_url, tmp_path
):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's autovacuum gathers its own statistics")
    create_group(client, auth)
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201
    assert analysed_tables(get_db(app).engine) == set()
    with running_server(database_url, tmp_path, workers=1):
        pass
    assert {"events", "groups", "participants"} <= analysed_tables(get_db(app).engine)


def test_healthz_and_readyz(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready"


def test_readyz_is_503_on_an_unmigrated_database(make_app, blank_database_factory):
    app = make_app(DATABASE_URL=blank_database_factory())
    response = app.test_client().get("/readyz")
    body = assert_problem(response, 503, "schema-not-current")
    assert "friendsgroup db upgrade" in body["detail"]


# The document and the page that renders it are not operations of the API.
DOCUMENTS = ("/openapi.json", "/docs")


def test_every_api_route_is_in_the_openapi_document(app, client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = document.json
    assert spec["openapi"].startswith("3.1")
    routes = {
        rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.rule.endswith(DOCUMENTS)
    }
    assert routes <= set(spec["paths"]), routes - set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.rule.endswith(DOCUMENTS):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            documented = {m.upper() for m in spec["paths"][path]}
            assert rule.methods - {"HEAD", "OPTIONS"} <= documented, path


def test_error_responses_are_documented_as_problem_json(client):
    spec = client.get("/api/v1/openapi.json").json
    assert "application/problem+json" in spec["components"]["responses"]["DEFAULT_ERROR"]["content"]


REGION = {"code": "EU", "name": "European Union", "kind": "region"}


def test_register_without_token_is_401_and_writes_nothing(client, session):
    before = row_counts(session)
    response = client.post("/api/v1/participants", json=REGION)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert row_counts(session) == before


def test_register_with_a_token_from_the_cli(app, client, runner, session):
    result = runner.invoke(args=["token", "create", "curator"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    response = client.post(
        "/api/v1/participants", json=REGION, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/participants/EU"
    assert response.json == {
        **REGION,
        "region": None,
        "sub_region": None,
        "url": None,
        "aliases": [],
    }
    assert row_counts(session)["participants"] == 1
    assert client.get("/api/v1/participants/eu").json["name"] == "European Union"


def test_duplicate_code_is_409(client, auth, session):
    assert client.post("/api/v1/participants", json=REGION, headers=auth).status_code == 201
    before = row_counts(session)
    body = assert_problem(
        client.post("/api/v1/participants", json=REGION, headers=auth), 409, "duplicate", "code"
    )
    assert "EU" in body["detail"]
    assert row_counts(session) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REGION, "kind": "planet"}, "kind"),
        ({**REGION, "kind": "country"}, "kind"),
        ({**REGION, "code": "KEN"}, "code"),
        ({**REGION, "code": "E"}, "code"),
        ({**REGION, "name": ""}, "name"),
        ({**REGION, "colour": "blue"}, "colour"),
        ({"code": "EU", "kind": "region"}, "name"),
    ],
)
def test_bad_participant_is_422_naming_the_field(client, auth, session, body, field):
    before = row_counts(session)
    assert_problem(
        client.post("/api/v1/participants", json=body, headers=auth), 422, "validation-error", field
    )
    assert row_counts(session) == before


def test_malformed_json_is_400(client, auth, session):
    before = row_counts(session)
    response = client.post(
        "/api/v1/participants",
        data='{"code": "EU",',
        content_type="application/json",
        headers=auth,
    )
    assert_problem(response, 400, "bad-request")
    assert row_counts(session) == before


def test_text_plain_body_is_415(client, auth, session):
    before = row_counts(session)
    response = client.post(
        "/api/v1/participants", data='{"code": "EU"}', content_type="text/plain", headers=auth
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert row_counts(session) == before


def test_unknown_path_and_method(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    response = client.delete("/api/v1/groups")
    assert_problem(response, 405, "method-not-allowed")


def test_unknown_resources_are_404(client):
    assert_problem(client.get("/api/v1/groups/none"), 404)
    assert_problem(client.get("/api/v1/instruments/none"), 404)
    assert_problem(client.get("/api/v1/participants/ZZZZ"), 404)
    assert_problem(client.get("/api/v1/events/999"), 404)


def test_participant_list_filters_and_pages(client, auth):
    for code in ("EU", "AU-ORG", "OECD"):
        kind = "region" if code == "EU" else "organisation"
        body = {"code": code, "name": f"Name {code}", "kind": kind}
        assert client.post("/api/v1/participants", json=body, headers=auth).status_code == 201
    client.post(
        "/api/v1/groups",
        json={
            "slug": "g",
            "name": "G",
            "established_on": "2024-01-01",
            "member_kinds": ["country"],
        },
        headers=auth,
    )
    client.post(
        "/api/v1/groups/g/accessions",
        json={"participant": "jp", "effective_on": "2024-02-01"},
        headers=auth,
    )
    first = client.get("/api/v1/participants?limit=2")
    assert [p["code"] for p in first.json["items"]] == ["AU-ORG", "EU"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(f"/api/v1/participants?limit=2&cursor={first.json['next_cursor']}")
    assert [p["code"] for p in second.json["items"]] == ["JPN", "OECD"]
    assert second.json["next_cursor"] is None
    assert "Link" not in second.headers
    assert [p["code"] for p in client.get("/api/v1/participants?kind=region").json["items"]] == [
        "EU"
    ]
    asia = client.get("/api/v1/participants?region=asia").json["items"]
    assert [(p["code"], p["region"], p["sub_region"]) for p in asia] == [
        ("JPN", "Asia", "Eastern Asia")
    ]
    assert [p["code"] for p in client.get("/api/v1/participants?q=oec").json["items"]] == ["OECD"]


def test_groups_and_instruments_are_created_and_listed(client, auth):
    group = {
        "slug": "haip-friends-group",
        "name": "HAIP Friends Group",
        "established_on": "2024-05-02",
        "member_kinds": ["country", "region"],
        "url": "https://example.org/haip",
        "description": "Countries and regions",
    }
    created = client.post("/api/v1/groups", json=group, headers=auth)
    assert created.status_code == 201
    assert created.json == group
    assert client.get("/api/v1/groups/haip-friends-group").json == group
    instrument = {
        "slug": "haip-code-of-conduct",
        "name": "Code of Conduct",
        "short_name": "Code",
        "adopted_on": "2023-10-30",
        "url": None,
        "description": None,
        "group": "haip-friends-group",
        "provisions": [{"number": 1, "title": "Risks"}, {"number": 2, "title": "Misuse"}],
    }
    made = client.post("/api/v1/instruments", json=instrument, headers=auth)
    assert made.status_code == 201, made.json
    assert made.json == instrument
    listed = client.get("/api/v1/instruments").json["items"]
    assert [i["slug"] for i in listed] == ["haip-code-of-conduct"]
    assert_problem(
        client.post("/api/v1/instruments", json=instrument, headers=auth), 409, "duplicate", "slug"
    )
    repeated = {**instrument, "slug": "other", "provisions": [{"number": 1, "title": "a"}] * 2}
    assert_problem(
        client.post("/api/v1/instruments", json=repeated, headers=auth), 422, field="provisions"
    )


def test_security_headers(client, auth):
    response = client.get("/api/v1/groups")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    write = client.post("/api/v1/participants", json=REGION, headers=auth)
    assert write.headers["Cache-Control"] == "no-store"
