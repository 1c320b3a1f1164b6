"""Safe retries with ``Idempotency-Key``."""

from friendsgroup.api import idempotency
from friendsgroup.api.auth import authenticate
from tests.support import assert_problem, create_group, row_counts

BODY = {"participant": "KEN", "effective_on": "2025-06-01"}


def post(client, auth, key, body=BODY):
    return client.post(
        "/api/v1/groups/friends/accessions", json=body, headers={**auth, "Idempotency-Key": key}
    )


def test_a_replay_returns_the_first_response_and_writes_nothing(client, auth, session):
    create_group(client, auth)
    first = post(client, auth, "key-1")
    assert first.status_code == 201
    before = row_counts(session)
    again = post(client, auth, "key-1")
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert row_counts(session) == before


def test_key_order_in_the_body_does_not_matter(client, auth):
    create_group(client, auth)
    first = post(client, auth, "key-2")
    reordered = client.post(
        "/api/v1/groups/friends/accessions",
        data='{"effective_on": "2025-06-01", "participant": "KEN"}',
        content_type="application/json",
        headers={**auth, "Idempotency-Key": "key-2"},
    )
    assert reordered.status_code == 201 and reordered.json == first.json


def test_a_reused_key_with_another_body_is_422(client, auth, session):
    create_group(client, auth)
    post(client, auth, "key-3")
    before = row_counts(session)
    response = post(client, auth, "key-3", {**BODY, "participant": "JPN"})
    assert_problem(response, 422, "idempotency-key-reused", "Idempotency-Key")
    assert row_counts(session) == before


def test_an_error_is_replayed_too(client, auth, session):
    create_group(client, auth)
    assert post(client, auth, "a").status_code == 201
    refused = post(client, auth, "b")
    assert refused.status_code == 409
    before = row_counts(session)
    replay = post(client, auth, "b")
    assert replay.status_code == 409 and replay.json == refused.json
    assert row_counts(session) == before


def test_a_retry_while_the_first_runs_is_409(app, client, auth):
    create_group(client, auth)
    # Claim the key as a first request would, and leave it running.
    with app.test_request_context(
        "/api/v1/groups/friends/accessions", method="POST", json=BODY, headers=auth
    ):
        caller = authenticate()
        assert idempotency.claim(caller.token_id, "slow") is None
    assert_problem(post(client, auth, "slow"), 409, "request-in-progress")


def test_keys_are_per_token(client, auth, runner):
    create_group(client, auth)
    assert post(client, auth, "shared").status_code == 201
    other = runner.invoke(args=["token", "create", "other"]).stdout.splitlines()[0]
    response = post(
        client, {"Authorization": f"Bearer {other}"}, "shared", {**BODY, "participant": "JPN"}
    )
    assert response.status_code == 201
