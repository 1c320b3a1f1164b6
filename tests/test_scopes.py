"""Scoped, expiring and rotated tokens; no token in the URL."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from friendsgroup.api.auth import scope_template
from friendsgroup.db import SAFE_METHODS, get_db
from friendsgroup.models import ApiToken
from friendsgroup.timeutil import utcnow
from friendsgroup.tokens import allows, create_token

from .support import (
    API,
    GROUP,
    INSTRUMENT,
    PARTNERS,
    SOURCE,
    assert_problem,
    make_world,
    post,
    row_counts,
    snapshot,
)

GROUP_SCOPE = f"groups:{GROUP}:write"


def make_token(runner, name: str, *options: str) -> dict:
    """``friendsgroup token create`` and the headers that carry its secret."""
    result = runner.invoke(args=["token", "create", name, *options])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.splitlines()[0]}"}


def accession(participant: str, on: str = "2025-06-01") -> dict:
    return {"participant": participant, "effective_on": on, "sources": [SOURCE]}


def test_every_write_route_of_the_app_needs_a_named_scope(app):
    writes = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(f"{API}/") and set(rule.methods) - SAFE_METHODS
    ]
    assert len(writes) >= 10
    unmapped = [rule.rule for rule in writes if scope_template(rule.endpoint) is None]
    assert unmapped == [], "give these write routes a scope in api/auth.py WRITE_SCOPES"


@pytest.mark.parametrize(
    ("scopes", "required", "allowed"),
    [
        (None, "audit:read", True),
        (None, "webhooks:manage", True),
        (["write"], "groups:g:write", True),
        (["write"], "participants:write", True),
        (["write"], "audit:read", False),
        (["write"], "webhooks:manage", False),
        (["groups:g:write"], "groups:g:write", True),
        (["groups:g:write"], "groups:h:write", False),
        (["groups:*:write"], "groups:h:write", True),
        (["groups:*:write"], "instruments:h:write", False),
        (["audit:read"], "write", False),
    ],
)
def test_scopes_only_narrow_a_token(scopes, required, allowed):
    assert allows(scopes, required) is allowed


def test_a_group_scoped_token_writes_there_and_nowhere_else(app, client, auth, runner):
    make_world(client, auth)
    ministry = make_token(runner, "ministry", "--scope", GROUP_SCOPE)

    recorded = post(client, f"/groups/{GROUP}/accessions", accession("FRA"), ministry)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["recorded_by"] == "ministry"

    before = snapshot(app)
    refused = [
        post(client, f"/groups/{PARTNERS}/accessions", accession("OECD"), ministry),
        post(client, f"/instruments/{INSTRUMENT}/commitments", accession("FRA"), ministry),
        post(client, "/groups", {"slug": "other"}, ministry),
        post(client, "/participants", {"code": "XX", "name": "X", "kind": "region"}, ministry),
        post(client, f"/groups/{GROUP}/announcements", {"as_of": "2025-01-01"}, ministry),
    ]
    for response in refused:
        body = assert_problem(response, 403, "insufficient-scope")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "needs the scope" in body["detail"]
    assert snapshot(app) == before


def test_a_retraction_needs_the_scope_of_the_events_group(app, client, auth, runner):
    world = make_world(client, auth)
    elsewhere = make_token(runner, "elsewhere", "--scope", f"groups:{PARTNERS}:write")
    here = make_token(runner, "here", "--scope", GROUP_SCOPE)
    path = f"/events/{world.accession_id}/retraction"

    before = snapshot(app)
    assert_problem(post(client, path, {"reason": "wrong"}, elsewhere), 403, "insufficient-scope")
    assert snapshot(app) == before
    assert post(client, path, {"reason": "wrong"}, here).status_code == 200
    # An event that does not exist is 404 whatever the scope: nothing can be written.
    assert_problem(post(client, "/events/999999/retraction", {"reason": "x"}, here), 404)


def test_an_expired_token_is_refused(app, client, auth):
    make_world(client, auth)
    with get_db(app).transaction() as session:
        secret = create_token(session, "old", expires_at=utcnow() - timedelta(seconds=1))
    with get_db(app).session(write=False) as session:
        counts = row_counts(session)
    response = post(
        client,
        f"/groups/{GROUP}/accessions",
        accession("FRA"),
        {"Authorization": f"Bearer {secret}"},
    )
    body = assert_problem(response, 401, "unauthorized")
    assert "expired" in body["detail"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    with get_db(app).session(write=False) as session:
        assert row_counts(session) == counts


def test_a_token_that_has_not_expired_yet_writes(client, auth, runner):
    make_world(client, auth)
    fresh = make_token(runner, "fresh", "--expires", "90d")
    assert post(client, f"/groups/{GROUP}/accessions", accession("FRA"), fresh).status_code == 201


def test_a_rotated_token_keeps_its_old_secret_for_the_grace_period_only(app, client, auth, runner):
    make_world(client, auth)
    old = make_token(runner, "rotating")
    result = runner.invoke(args=["token", "rotate", "rotating", "--grace", "1h"])
    assert result.exit_code == 0, result.output
    new = {"Authorization": f"Bearer {result.stdout.splitlines()[0]}"}
    assert new != old

    assert post(client, f"/groups/{GROUP}/accessions", accession("FRA"), old).status_code == 201
    assert post(client, f"/groups/{GROUP}/accessions", accession("DEU"), new).status_code == 201

    # The grace period ends (the clock is moved by moving the end into the past).
    with get_db(app).transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.name == "rotating")
            .values(previous_ends_at=utcnow() - timedelta(seconds=1))
        )
    refused = post(client, f"/groups/{GROUP}/accessions", accession("ITA"), old)
    assert_problem(refused, 401, "unauthorized")
    assert post(client, f"/groups/{GROUP}/accessions", accession("ITA"), new).status_code == 201


def test_rotating_an_unknown_token_fails(runner):
    result = runner.invoke(args=["token", "rotate", "nobody"])
    assert result.exit_code == 1
    assert "no active token named 'nobody'" in result.output


@pytest.mark.parametrize("scope", ["groups:write", "everything", "groups:Bad Slug:write", ""])
def test_an_unknown_scope_is_refused_by_the_cli(runner, scope):
    result = runner.invoke(args=["token", "create", "bad", "--scope", scope])
    assert result.exit_code == 2
    assert "--scope" in result.output


@pytest.mark.parametrize("expires", ["0d", "ninety", "90y", "-1d"])
def test_a_bad_expiry_is_refused_by_the_cli(runner, expires):
    result = runner.invoke(args=["token", "create", "bad", "--expires", expires])
    assert result.exit_code == 2
    assert "duration" in result.output


def test_token_list_shows_scopes_creation_expiry_and_last_use(client, auth, runner):
    make_world(client, auth)
    ministry = make_token(runner, "ministry", "--scope", GROUP_SCOPE, "--scope", "audit:read")
    make_token(runner, "unused", "--expires", "90d")
    assert (
        post(client, f"/groups/{GROUP}/accessions", accession("FRA"), ministry).status_code == 201
    )

    lines = runner.invoke(args=["token", "list"]).stdout.splitlines()
    assert lines[0] == "name\tscopes\tcreated\texpires\tlast used\tstate"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["ministry"][1] == f"audit:read {GROUP_SCOPE}"
    assert rows["ministry"][3] == "-"
    assert rows["ministry"][4] != "-"
    assert rows["ministry"][5] == "active"
    assert rows["secretariat"][1] == "all"
    assert rows["unused"][3] != "-" and rows["unused"][4] == "-"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_token_in_the_query_string_is_refused(app, client, auth, token, method):
    make_world(client, auth)
    before = snapshot(app)
    path = f"{API}/groups/{GROUP}/accessions?access_token={token}"
    if method == "get":
        response = client.get(f"{API}/groups/{GROUP}/members?access_token={token}")
    else:
        response = client.post(path, json=accession("FRA"), headers=auth)
    body = assert_problem(response, 400, "token-in-url", field="access_token")
    assert token not in response.get_data(as_text=True)
    assert "Authorization" in body["detail"]
    assert snapshot(app) == before
