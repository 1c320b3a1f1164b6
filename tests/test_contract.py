"""Contract fuzzing: schemathesis drives every operation of ``/api/v1/openapi.json`` with
generated requests (valid and invalid, on real and unknown resources) and checks that no
answer is a 5xx, that each one conforms to the document (status code, content type, headers,
body schema), that data the document refuses is refused, that data it admits passes the API's
own schemas, that an undocumented method is a 405 with ``Allow``, and that writes documented as
needing a token refuse to work without one. Deterministic (Hypothesis ``derandomize``),
bounded per operation."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from friendsgroup import create_app
from friendsgroup.db import get_db
from friendsgroup.timeutil import today
from friendsgroup.tokens import create_token
from tests.conftest import clean
from tests.support import API, GROUP, INSTRUMENT, make_world

EXAMPLES = 40


@schemathesis.check
def positive_data_passes_the_schemas(ctx, response, case) -> bool | None:
    """A request the document admits is not refused by the operation's own schemas.

    schemathesis' ``positive_data_acceptance`` wants a 2xx for it, but a rule of the registry
    (a date before the group began, an ISO code registered as an organisation, a cursor this
    service did not issue) may refuse schema-valid data with a 422: the request as sent is
    loaded with the operation's marshmallow schemas, and only their refusal is a failure.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 422:
        return None
    refused = schema_refusal(case.operation.app, response.request)
    if refused and refused != PROSE_RULES:
        raise AssertionError(f"the document admits what the schemas refuse: {refused}")
    return None


# The one schema rule JSON Schema cannot state, stated in the field's description instead.
PROSE_RULES = {"provisions": ["provision numbers must be unique"]}


def schema_refusal(app, request) -> dict:
    """What the operation's marshmallow schemas (query and body) refuse in a request as sent."""
    url = urlsplit(request.url)
    endpoint, _ = app.url_map.bind("localhost").match(url.path, method=request.method)
    handler = getattr(app.view_functions[endpoint].view_class, request.method.lower())
    refused = {}
    for parameter in handler._apidoc.get("arguments", {}).get("parameters", []):
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        if parameter["in"] == "query":
            data = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        else:
            data = whole_numbers_as_integers(json.loads(request.body or b"null"))
        try:
            with app.app_context():
                schema.load(data)
        except ValidationError as error:
            refused.update(error.messages)
    return refused


def whole_numbers_as_integers(value):
    """``144.0`` as ``144``: JSON Schema's ``integer`` admits it and cannot refuse it, the API
    refuses it (integers are JSON integers, the document's description says), so this one
    difference is the document's prose, not its schemas."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [whole_numbers_as_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: whole_numbers_as_integers(item) for key, item in value.items()}
    return value


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_passes_the_schemas,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
]
# A case whose values were replaced (``realistic``) is no longer known to be valid or invalid.
DATA_CHECKS = (negative_data_rejection, positive_data_passes_the_schemas)


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
    """A generated case, with some of its values replaced by realistic ones, and whether any
    was replaced."""
    case = draw(cases)
    replaced = False
    for container in (case.body, case.query):
        if isinstance(container, dict) and draw(st.booleans()):
            for name, values in REALISTIC.items():
                if name in container:
                    container[name] = draw(values)
                    replaced = True
    return case, replaced


def known_path_parameters(path: str, world) -> dict:
    """Path parameters naming resources that exist, so that requests get past the 404."""
    slug = INSTRUMENT if path.startswith(f"{API}/instruments") else GROUP
    known = {"slug": slug, "code": "KEN", "event_id": world.accession_id}
    return {name: value for name, value in known.items() if "{" + name + "}" in path}


def test_every_operation_is_fuzzed():
    assert len(OPERATIONS) >= 25
    provisions = DOCUMENT["components"]["schemas"]["InstrumentCreate"]["properties"]["provisions"]
    assert provisions["description"] == PROSE_RULES["provisions"][0]
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

    @given(drawn=realistic(st.one_of(strategies)))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def honours_the_document(drawn):
        case, replaced = drawn
        checks = [c for c in CHECKS if not (replaced and c in DATA_CHECKS)]
        case.call_and_validate(headers=auth, checks=checks)

    honours_the_document()


STEPS = 6


def test_sequences_of_operations_honour_the_document(app, client):
    """Stateful: schemathesis chains operations by the links it infers (an id or a slug from
    one answer into the next request) and runs every check on each step, those of sequences
    too (a deleted resource stays gone, a created one can be read)."""
    machine = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app).as_state_machine()
    auth = {}

    class Sequences(machine):
        def setup(self):
            # Every sequence starts from the same registry, so that each one replays alike.
            clean(app)
            with get_db(app).transaction() as session:
                auth["Authorization"] = f"Bearer {create_token(session, 'sequences')}"
            make_world(client, auth)

        def get_call_kwargs(self, case):
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # The generated Authorization is replaced by a valid token, so ignored_auth would
            # misfire here (the single-request test runs it); positive data is judged by the
            # operation's own schemas, as there.
            case.validate_response(
                response,
                excluded_checks=[ignored_auth, positive_data_acceptance],
                additional_checks=[positive_data_passes_the_schemas],
                transport_kwargs=kwargs,
            )

    Sequences.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


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
