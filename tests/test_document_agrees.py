"""The OpenAPI document as strict as the validators: for each value, the document's schema and
the API give the same verdict (the API refusing with 422 naming the field, writing nothing)."""

import jsonschema_rs
import pytest

from tests.support import API, assert_problem, snapshot
from tests.test_contract import DOCUMENT

PARTICIPANT = {"code": "ACME", "name": "Acme", "kind": "organisation"}
GROUP = {"slug": "g", "name": "G", "established_on": "2024-05-02", "member_kinds": ["country"]}
URL_CASES = {
    "https://example.org/press/1?lang=en#top": True,
    "HTTP://EXAMPLE.ORG/A%20B": True,
    "http://é.example.org/": False,
    "http://example.org/<script>": False,
    "http://example.org/%zz": False,
    "ftp://example.org/file": False,
    "javascript:alert(1)": False,
    "example.org": False,
}


def document_says(component: str, body: dict) -> bool:
    """Whether the document's schema of ``component`` admits ``body``."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": DOCUMENT["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(body)


CASES = [
    pytest.param(
        "/participants", "ParticipantCreate", {**PARTICIPANT, "kind": "country"}, "kind", id="kind"
    ),
    pytest.param(
        "/participants", "ParticipantCreate", {**PARTICIPANT, "name": "Ac\x00me"}, "name", id="nul"
    ),
    pytest.param("/groups", "GroupCreate", {**GROUP, "description": "\x00"}, "description"),
    *[
        pytest.param(
            "/participants", "ParticipantCreate", {**PARTICIPANT, "url": url}, None, id=url
        )
        for url in URL_CASES
    ],
]


@pytest.mark.parametrize(("path", "component", "body", "field"), CASES)
def test_the_document_and_the_api_agree(app, client, auth, path, component, body, field):
    admitted = document_says(component, body)
    before = snapshot(app)
    response = client.post(f"{API}{path}", json=body, headers=auth)
    if "url" in body:
        assert admitted is URL_CASES[body["url"]]
        field = "url"
    if admitted:
        assert response.status_code == 201, response.get_data(as_text=True)
    else:
        assert_problem(response, 422, field=field)
        assert snapshot(app) == before


@pytest.mark.parametrize("value", [1.0, True, "1", 1.5])
def test_an_integer_in_a_body_is_a_json_integer(app, client, auth, value):
    """JSON Schema's ``integer`` admits 1.0; the API does not, and its description says so."""
    assert "`1.0` and `true` are refused" in DOCUMENT["info"]["description"]
    group = client.post(f"{API}/groups", json=GROUP, headers=auth)
    assert group.status_code == 201
    body = {"as_of": "2024-06-01", "count": value, "source": {"url": "https://example.org/1"}}
    response = client.post(f"{API}/groups/g/announcements", json=body, headers=auth)
    assert_problem(response, 422, field="count")


@pytest.mark.parametrize("value", ["+1", " 1", "1_0", "\u0661", "1.0", "1e1"])
def test_an_integer_in_a_query_is_ascii_digits(client, value):
    assert "in ASCII digits" in DOCUMENT["info"]["description"]
    response = client.get(f"{API}/groups", query_string={"limit": value})
    assert_problem(response, 422, field="limit")


def test_a_query_integer_in_ascii_digits_is_read(client):
    assert client.get(f"{API}/groups", query_string={"limit": "007"}).status_code == 200
