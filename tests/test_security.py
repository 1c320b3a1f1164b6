"""Security promises: hashed tokens compared in constant time, revocation, no
internals in responses or logs, security headers and the body size limit."""

import hashlib
import hmac
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError

from friendsgroup import tokens as tokens_module
from friendsgroup.db import get_db
from friendsgroup.models import ApiToken
from tests.support import API, GROUP, assert_problem, make_world, snapshot

ACCESSION = {"participant": "FRA", "effective_on": "2025-01-01"}
MIB = 1024 * 1024


def cli_token(runner, name: str) -> str:
    """Create a token with the CLI and return the secret it printed."""
    result = runner.invoke(args=["token", "create", name])
    assert result.exit_code == 0, result.output
    secrets = [line for line in result.stdout.splitlines() if line.startswith("fg_")]
    assert len(secrets) == 1, result.output
    return secrets[0]


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


# --- tokens -------------------------------------------------------------------------------------


def test_tokens_are_stored_only_as_hashes(app, runner):
    secret = cli_token(runner, "curator")
    with get_db(app).transaction(write=False) as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name == "curator")).one()
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    everything = repr(snapshot(app))
    assert secret not in everything
    assert secret[3:] not in everything
    listed = runner.invoke(args=["token", "list"])
    assert "curator" in listed.output
    assert secret not in listed.output


def test_a_cli_token_authorises_writes_until_revoked(app, client, runner):
    secret = cli_token(runner, "curator")
    make_world(client, bearer(secret))
    accepted = client.post(
        f"{API}/groups/{GROUP}/accessions", json=ACCESSION, headers=bearer(secret)
    )
    assert accepted.status_code == 201
    assert accepted.get_json()["recorded_by"] == "curator"

    revoked = runner.invoke(args=["token", "revoke", "curator"])
    assert revoked.exit_code == 0, revoked.output
    before = snapshot(app)
    body = {**ACCESSION, "participant": "DEU"}
    response = client.post(f"{API}/groups/{GROUP}/accessions", json=body, headers=bearer(secret))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda secret: None, id="no-header"),
        pytest.param(lambda secret: "Bearer fg_wrong", id="unknown-token"),
        pytest.param(lambda secret: f"Bearer {secret[:-1]}", id="truncated"),
        pytest.param(lambda secret: f"Bearer {secret}x", id="extended"),
        pytest.param(lambda secret: f"Bearer {secret.upper()}", id="upper-cased"),
        pytest.param(lambda secret: f"Basic {secret}", id="basic-scheme"),
        pytest.param(lambda secret: secret, id="no-scheme"),
        pytest.param(lambda secret: "Bearer ", id="empty-token"),
        pytest.param(lambda secret: "Bearer", id="scheme-only"),
        pytest.param(
            lambda secret: "Bearer " + hashlib.sha256(secret.encode()).hexdigest(),
            id="the-stored-hash",
        ),
        pytest.param(lambda secret: "Bearer ' OR '1'='1", id="sql-injection"),
    ],
)
def test_a_missing_or_wrong_token_is_refused(app, client, token, make_header):
    header = make_header(token)
    headers = {} if header is None else {"Authorization": header}
    before = snapshot(app)
    response = client.post(f"{API}/groups", json={"slug": "x"}, headers=headers)
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert token not in response.get_data(as_text=True)
    assert "detail" in body
    assert snapshot(app) == before


def test_the_token_is_compared_in_constant_time(app, token, monkeypatch):
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)
    with get_db(app).transaction(write=False) as session:
        found = tokens_module.find_active_token(session, token)
        assert found is not None and found.name == "secretariat"
        assert calls == [(found.token_hash, tokens_module.hash_token(token))]
        assert tokens_module.find_active_token(session, token + "x") is None


def test_a_revoked_token_is_not_found(app, token):
    with get_db(app).transaction() as session:
        assert tokens_module.revoke_token(session, "secretariat")
    with get_db(app).transaction(write=False) as session:
        assert tokens_module.find_active_token(session, token) is None


# --- no internals in responses or logs -----------------------------------------------------------

INTERNALS = [
    "Traceback",
    'File "',
    ".py",
    "SELECT",
    "api_tokens",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "RuntimeError",
    "ProgrammingError",
]


def provoke(client, auth, token, monkeypatch):
    """Every kind of error the API answers, including two of its own (500): the responses."""
    leak = f"SELECT token_hash FROM api_tokens WHERE secret = '{token}'"

    def broken_report(*_args, **_kwargs):
        raise RuntimeError(leak)

    def broken_query(*_args, **_kwargs):
        raise ProgrammingError(leak, {"secret": token}, Exception(f"syntax error near {token}"))

    write = f"{API}/groups/{GROUP}/accessions"
    responses = {
        "400": client.post(write, data="{", content_type="application/json", headers=auth),
        "401": client.post(write, json=ACCESSION, headers=bearer(token + "x")),
        "404": client.get(f"{API}/groups/nope"),
        "405": client.delete(f"{API}/groups/{GROUP}", headers=auth),
        "409": client.post(write, json={**ACCESSION, "participant": "KEN"}, headers=auth),
        "413": client.post(
            write, data="x" * (MIB + 1), content_type="application/json", headers=auth
        ),
        "415": client.post(write, data="participant=KEN", headers=auth),
        "422": client.post(write, json={**ACCESSION, "note": token + "\x00"}, headers=auth),
        "422-cursor": client.get(f"{API}/groups?cursor={token}"),
    }
    monkeypatch.setattr("friendsgroup.api.groups.members_report", broken_report)
    responses["500-report"] = client.get(f"{API}/groups/{GROUP}/members")
    monkeypatch.setattr("friendsgroup.api.groups.counts_series", broken_query)
    responses["500-database"] = client.get(f"{API}/groups/{GROUP}/counts")
    monkeypatch.setattr("friendsgroup.api.groups.record_event", broken_report)
    responses["500-write"] = client.post(
        write, json={**ACCESSION, "participant": "DEU"}, headers=auth
    )
    return responses


def test_no_stack_trace_sql_or_secret_in_responses_or_logs(
    app, client, auth, token, monkeypatch, caplog
):
    make_world(client, auth)
    caplog.set_level(logging.DEBUG)
    responses = provoke(client, auth, token, monkeypatch)

    for name, response in responses.items():
        expected = int(name[:3])
        body = assert_problem(response, expected)
        text = response.get_data(as_text=True)
        assert token not in text, name
        for internal in INTERNALS:
            assert internal not in text, (name, internal)
        if expected == 500:
            assert body == {
                "type": "/problems/internal-error",
                "title": "Internal error",
                "status": 500,
            }

    assert any(record.levelno >= logging.ERROR for record in caplog.records)
    for record in caplog.records:
        line = record.getMessage()
        assert record.exc_info is None, line
        assert record.exc_text is None, line
        assert token not in line
        for internal in ["Traceback", "SELECT", "api_tokens", "syntax error"]:
            assert internal not in line, line


# --- headers -------------------------------------------------------------------------------------

REQUESTS = {
    "get-200": ("GET", f"{API}/groups", {}),
    "get-csv": ("GET", f"{API}/groups?format=csv", {}),
    "get-report": ("GET", f"{API}/groups/{GROUP}/members", {}),
    "get-404": ("GET", f"{API}/groups/nope", {}),
    "get-422": ("GET", f"{API}/groups?limit=0", {}),
    "openapi": ("GET", f"{API}/openapi.json", {}),
    "healthz": ("GET", "/healthz", {}),
    "readyz": ("GET", "/readyz", {}),
    "outside-api": ("GET", "/nowhere", {}),
    "head": ("HEAD", f"{API}/groups", {}),
    "options": ("OPTIONS", f"{API}/groups", {}),
    "post-201": ("POST", f"{API}/groups/{GROUP}/accessions", {"json": ACCESSION}),
    "post-400": ("POST", f"{API}/groups/{GROUP}/accessions", {"data": "[", "json_type": True}),
    "post-401": ("POST", f"{API}/groups/{GROUP}/accessions", {"json": ACCESSION, "anon": True}),
    "post-404": ("POST", f"{API}/groups/nope/accessions", {"json": ACCESSION}),
    "post-409": (
        "POST",
        f"{API}/groups/{GROUP}/accessions",
        {"json": {**ACCESSION, "participant": "KEN"}},
    ),
    "post-413": (
        "POST",
        f"{API}/groups/{GROUP}/accessions",
        {"data": "x" * (MIB + 1), "json_type": True},
    ),
    "post-415": ("POST", f"{API}/groups/{GROUP}/accessions", {"data": "a=b"}),
    "post-422": ("POST", f"{API}/groups/{GROUP}/accessions", {"json": {"participant": "FRA"}}),
    "retraction-200": ("POST", f"{API}/events/{{accession}}/retraction", {"json": {"reason": "r"}}),
    "put-405": ("PUT", f"{API}/groups/{GROUP}", {"json": {}}),
    "patch-405": ("PATCH", f"{API}/groups/{GROUP}", {"json": {}}),
    "delete-405": ("DELETE", f"{API}/events/{{accession}}", {}),
    "post-unknown-route": ("POST", f"{API}/nowhere", {"json": {}}),
}


def send(client, auth, world, name: str):
    method, path, options = REQUESTS[name]
    options = dict(options)
    headers = {} if options.pop("anon", False) else dict(auth)
    if options.pop("json_type", False):
        headers["Content-Type"] = "application/json"
    path = path.format(accession=world.accession_id)
    return client.open(path, method=method, headers=headers, **options)


@pytest.mark.parametrize("name", REQUESTS)
def test_every_response_says_nosniff(client, auth, name):
    world = make_world(client, auth)
    response = send(client, auth, world, name)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_304_says_nosniff(client, auth):
    make_world(client, auth)
    report = f"{API}/groups/{GROUP}/members?as_of=2025-07-01&known_at=2026-01-01T00:00:00Z"
    first = client.get(report)
    again = client.get(report, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", [n for n, r in REQUESTS.items() if r[0] not in ("GET", "HEAD")])
def test_every_write_says_no_store(client, auth, name):
    world = make_world(client, auth)
    response = send(client, auth, world, name)
    if REQUESTS[name][0] == "OPTIONS":
        return
    assert response.headers["Cache-Control"] == "no-store", response.status_code


def test_an_internal_error_on_a_write_says_no_store(client, auth, monkeypatch):
    make_world(client, auth)

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("friendsgroup.api.groups.record_event", broken)
    response = client.post(f"{API}/groups/{GROUP}/accessions", json=ACCESSION, headers=auth)
    assert_problem(response, 500)
    assert response.headers["Cache-Control"] == "no-store"


def test_an_idempotent_replay_says_no_store(client, auth):
    make_world(client, auth)
    headers = {**auth, "Idempotency-Key": "replay-1"}
    first = client.post(f"{API}/groups/{GROUP}/accessions", json=ACCESSION, headers=headers)
    replay = client.post(f"{API}/groups/{GROUP}/accessions", json=ACCESSION, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.get_data() == first.get_data()
    assert replay.headers["Cache-Control"] == "no-store"
    assert replay.headers["X-Content-Type-Options"] == "nosniff"


def test_reads_are_not_marked_no_store(client):
    assert "no-store" not in client.get(f"{API}/groups").headers.get("Cache-Control", "")


# --- body size limit ---------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (its note is too long, but it parses)."""
    head = b'{"participant": "FRA", "effective_on": "2025-01-01", "note": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize(("size", "status"), [(MIB, 422), (MIB + 1, 413), (10 * MIB, 413)])
def test_the_default_body_limit_is_one_mib(app, client, auth, size, status):
    make_world(client, auth)
    before = snapshot(app)
    response = client.post(
        f"{API}/groups/{GROUP}/accessions",
        data=padded(size),
        content_type="application/json",
        headers=auth,
    )
    assert_problem(response, status, field="note" if status == 422 else None)
    assert snapshot(app) == before


def test_the_body_limit_is_configurable(make_app, database_url, auth, client):
    make_world(client, auth)
    small = make_app(DATABASE_URL=database_url, MAX_CONTENT_LENGTH=2000).test_client()
    url = f"{API}/groups/{GROUP}/accessions"
    refused = small.post(url, data=padded(2001), content_type="application/json", headers=auth)
    assert_problem(refused, 413)
    accepted = small.post(url, json=ACCESSION, headers=auth)
    assert accepted.status_code == 201


def test_an_unauthenticated_write_is_refused_before_its_body_is_read(client):
    response = client.post(
        f"{API}/groups/{GROUP}/accessions", data=padded(2 * MIB), content_type="application/json"
    )
    assert_problem(response, 401)
