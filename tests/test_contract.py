"""Contract fuzzing: schemathesis drives every operation of ``/api/v1/openapi.json`` with
generated requests (valid and invalid, on real and unknown resources) and checks that no
answer is a 5xx, that each one conforms to the document (status code, content type, body
schema) and that writes documented as needing a token refuse to work without one.
Deterministic (Hypothesis ``derandomize``), bounded per operation."""

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from friendsgroup import create_app
from friendsgroup.db import get_db
from friendsgroup.timeutil import today
from tests.support import API, GROUP, INSTRUMENT, make_world

EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


def openapi_document() -> dict:
    """The document, from an app on an unused database (building it needs none)."""
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True})
    try:
        return app.test_client().get(f"{API}/openapi.json").get_json()
    finally:
        get_db(app).dispose()


DOCUMENT = openapi_document()


def documented_operations() -> list[str]:
    """``METHOD /path`` of every operation in the document."""
    return [
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


OPERATIONS = documented_operations()


DAYS = st.dates(min_value=today() - timedelta(days=800), max_value=today() + timedelta(days=300))
# Values that name things that exist and dates the rules accept, swapped into half of the
# generated bodies and queries, so that requests also reach the rules behind the schemas.
REALISTIC = {
    "participant": st.sampled_from(["KEN", "ken", "FRA", "fr", "JPN", "DEU", "EU", "ACME"]),
    "effective_on": DAYS.map(str),
    "earliest_on": st.none() | st.just("2024-05-02"),
    "as_of": DAYS.map(str),
    "known_at": st.sampled_from(["2025-01-01T00:00:00Z", "2030-01-01T00:00:00+02:00"]),
    "provisions": st.none() | st.lists(st.integers(1, 11), min_size=1, max_size=3),
    "members_of": st.just(GROUP),
    "group": st.just(GROUP),
    "sources": st.lists(st.just({"url": "https://example.org/press/1"}), min_size=1, max_size=2),
    "source": st.just({"url": "https://example.org/press/2", "reliability": "official"}),
    "from": DAYS.map(str),
    "to": DAYS.map(str),
}


@st.composite
def realistic(draw, cases):
    """A generated case, with some of its values replaced by realistic ones."""
    case = draw(cases)
    for container in (case.body, case.query):
        if isinstance(container, dict) and draw(st.booleans()):
            for name, values in REALISTIC.items():
                if name in container:
                    container[name] = draw(values)
    return case


def known_path_parameters(path: str, world) -> dict:
    """Path parameters naming resources that exist, so that requests get past the 404."""
    slug = INSTRUMENT if path.startswith(f"{API}/instruments") else GROUP
    known = {"slug": slug, "code": "KEN", "event_id": world.accession_id}
    return {name: value for name, value in known.items() if "{" + name + "}" in path}


def test_every_operation_is_fuzzed():
    assert len(OPERATIONS) >= 25
    assert f"POST {API}/groups/{{slug}}/accessions" in OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_honours_the_document(app, client, auth, label):
    world = make_world(client, auth)
    method, path = label.split(" ", 1)
    operation = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)[path][method]
    known = known_path_parameters(path, world)
    strategies = [
        operation.as_strategy(mode, path_parameters=parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for parameters in ([known, None] if known else [None])
    ]

    @given(case=realistic(st.one_of(strategies)))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def honours_the_document(case):
        case.call_and_validate(headers=auth, checks=CHECKS)

    honours_the_document()


def operations_taking_format() -> list:
    """Every operation whose document offers ``format`` (and so promises CSV)."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        names = {p["name"] for p in item.get("get", {}).get("parameters", [])}
        if "format" in names:
            found.append(pytest.param(path, id=path))
    return found


@pytest.mark.parametrize("path", operations_taking_format())
def test_an_operation_offering_format_answers_csv(client, auth, path):
    world = make_world(client, auth)
    url = path.format(**known_path_parameters(path, world))
    for response in [
        # The token matters only to the audit trail, the one read that needs one.
        client.get(url, query_string={"format": "csv"}, headers=auth),
        client.get(url, headers={"Accept": "text/csv", **auth}),
    ]:
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.get_data(as_text=True).splitlines()[0]


def test_the_document_says_what_writes_need_and_errors_are():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "friendsgroup token create",
    }
    for label in OPERATIONS:
        method, path = label.split(" ", 1)
        operation = DOCUMENT["paths"][path][method.lower()]
        if method == "GET" and path != "/api/v1/audit":
            assert "security" not in operation, label
            continue
        assert operation["security"] == [{"bearerAuth": []}], label
        assert "401" in operation["responses"], label
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and "content" in response:
                assert list(response["content"]) == ["application/problem+json"], label
