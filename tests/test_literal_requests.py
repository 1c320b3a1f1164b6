"""Requests are taken literally: filters are values, unknown parameters and odd ids are refused."""

import pytest

from tests.support import API, GROUP, INSTRUMENT, make_world, snapshot

BODY = {"participant": "FRA", "effective_on": "2025-07-01"}

# (method, path, body, status, problem type, field): each refused, each writing nothing.
REFUSED = [
    ("GET", f"/groups/{GROUP}/members?region=Asia", None, 422, "validation-error", "region"),
    ("GET", f"/groups/{GROUP}/members?date=2025-01-01", None, 422, "validation-error", "date"),
    ("GET", f"/groups/{GROUP}/events?since=2025-01-01", None, 422, "validation-error", "since"),
    ("GET", f"/groups/{GROUP}/events?recorded_after=x", None, 422, "validation-error", None),
    ("GET", f"/groups/{GROUP}/counts?date=2025-01-01", None, 422, "validation-error", "date"),
    ("GET", f"/groups/{GROUP}?as_of=2025-01-01", None, 422, "validation-error", "as_of"),
    ("GET", f"/instruments/{INSTRUMENT}?x=1", None, 422, "validation-error", "x"),
    ("GET", "/participants?kinds=country", None, 422, "validation-error", "kinds"),
    ("GET", "/events/1?verbose=1", None, 422, "validation-error", "verbose"),
    ("POST", f"/groups/{GROUP}/accessions?dry_run=1", BODY, 422, "validation-error", "dry_run"),
    ("POST", f"/groups/{GROUP}/accessions?access_token=t", BODY, 400, "token-in-url", None),
    ("GET", "/participants?access_token=secret", None, 400, "token-in-url", None),
    ("GET", "/events/%D9%A3", None, 404, "not-found", None),
    ("GET", "/events/%EF%BC%91", None, 404, "not-found", None),
    ("POST", "/events/%D9%A3/retraction", {"reason": "r"}, 404, "not-found", None),
]


@pytest.fixture
def world(client, auth):
    return make_world(client, auth)


@pytest.mark.parametrize(("method", "path", "body", "status", "type_", "field"), REFUSED)
def test_a_request_not_meant_literally_is_refused_and_writes_nothing(
    app, client, auth, world, method, path, body, status, type_, field
):
    before = snapshot(app)
    response = client.open(f"{API}{path}", method=method, json=body, headers=auth)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["type"] == f"/problems/{type_}"
    if field:
        assert field in problem["errors"], problem
    if status == 422 and field is None:
        assert problem["errors"], problem
    assert snapshot(app) == before


def test_the_unknown_parameters_are_named_among_known_ones(client, world):
    response = client.get(f"{API}/groups/{GROUP}/members?as_of=2025-07-01&since=2025")
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["since"]


@pytest.mark.parametrize("region", ["%", "_frica", "\\", "Afric%", "%%", "a'b"])
def test_a_region_filter_is_a_value_not_a_pattern(client, world, region):
    response = client.get(f"{API}/participants", query_string={"region": region})
    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_region_and_q_are_compared_folded_on_either_database(client, world):
    by_region = client.get(f"{API}/participants", query_string={"region": "AFRICA"}).get_json()
    assert [p["code"] for p in by_region["items"]] == ["KEN"]
    for q in ("KEN", "kenya", "ENY", "%", "_", "\\"):
        found = client.get(f"{API}/participants", query_string={"q": q}).get_json()["items"]
        assert [p["code"] for p in found] == (["KEN"] if q not in "%_\\" else []), q


def test_q_ignores_case_and_accents_beyond_ascii(client, auth, world):
    response = client.post(
        f"{API}/groups/{GROUP}/accessions",
        json={"participant": "TUR", "effective_on": "2025-07-01"},
        headers=auth,
    )
    assert response.status_code == 201
    for q in ("TÜRK", "türk", "turk", "TURKİYE", "Türkiye"):
        found = client.get(f"{API}/participants", query_string={"q": q}).get_json()["items"]
        assert [p["code"] for p in found] == ["TUR"], q


def test_a_group_dated_ahead_answers_its_plain_counts(client, auth):
    body = {"slug": "later", "name": "Later", "established_on": "9999-12-31"}
    body["member_kinds"] = ["country"]
    assert client.post(f"{API}/groups", json=body, headers=auth).status_code == 201
    response = client.get(f"{API}/groups/later/counts")
    assert response.status_code == 200, response.get_json()
    assert [p["count"] for p in response.get_json()["points"]] == [0]


def test_the_link_header_ignores_the_clients_host(app, client, world):
    response = client.get(f"{API}/groups?limit=1", headers={"Host": "evil.example"})
    link = response.headers["Link"]
    assert "evil.example" not in link and link.startswith(f"<{API}/groups?")
    app.config["PUBLIC_BASE_URL"] = "https://registry.example.org/"
    link = client.get(f"{API}/groups?limit=1", headers={"Host": "evil.example"}).headers["Link"]
    assert link.startswith(f"<https://registry.example.org{API}/groups?")
