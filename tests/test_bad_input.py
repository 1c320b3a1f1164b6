"""A catalogue of bad input: each is refused with a problem+json and writes nothing.

Every write endpoint has one valid body (accepted: see the first test); each bad case changes
one thing in it. Reads are checked the same way through their query arguments.
"""

import base64
import csv
import io
import json
from datetime import timedelta

import pytest

from friendsgroup.timeutil import today
from tests.support import (
    API,
    GROUP,
    INSTRUMENT,
    World,
    assert_problem,
    make_world,
    row_counts,
    snapshot,
)

FAR = (today() + timedelta(days=367)).isoformat()
NEAR = (today() + timedelta(days=300)).isoformat()
MIB = 1024 * 1024
BIG = "x" * 100_000
URL = "https://example.org/press/1"

# One valid body per write endpoint: (path, body, status). ``{accession}`` is the id of KEN's
# accession in the world every test starts from.
VALID = {
    "groups": (
        "/groups",
        {
            "slug": "gpai",
            "name": "Global Partnership on AI",
            "established_on": "2020-06-15",
            "member_kinds": ["country"],
            "url": URL,
            "description": "A group",
        },
        201,
    ),
    "accessions": (
        f"/groups/{GROUP}/accessions",
        {
            "participant": "FRA",
            "effective_on": "2025-01-01",
            "earliest_on": "2024-12-01",
            "sources": [{"url": URL, "title": "France joins", "published_on": "2025-01-02"}],
            "note": "a note",
        },
        201,
    ),
    "withdrawals": (
        f"/groups/{GROUP}/withdrawals",
        {"participant": "KEN", "effective_on": "2025-09-01", "note": "a note"},
        201,
    ),
    "announcements": (
        f"/groups/{GROUP}/announcements",
        {"as_of": "2025-02-01", "count": 55, "source": {"url": URL}, "note": "a note"},
        201,
    ),
    "instruments": (
        "/instruments",
        {
            "slug": "haip-guiding-principles",
            "name": "Guiding Principles",
            "adopted_on": "2023-10-30",
            "group": GROUP,
            "provisions": [{"number": 1, "title": "Principle 1"}],
        },
        201,
    ),
    "commitments": (
        f"/instruments/{INSTRUMENT}/commitments",
        {"participant": "FRA", "effective_on": "2025-01-01", "provisions": [1, 2], "note": "n"},
        201,
    ),
    "reports": (
        f"/instruments/{INSTRUMENT}/reports",
        {
            "participant": "JPN",
            "effective_on": "2025-03-01",
            "sources": [{"url": URL}],
            "note": "n",
        },
        201,
    ),
    "participants": (
        "/participants",
        {"code": "GPAI-SECRETARIAT", "name": "GPAI Secretariat", "kind": "organisation"},
        201,
    ),
    "retraction": ("/events/{accession}/retraction", {"reason": "recorded twice"}, 200),
    "correction": (
        "/events/{accession}/correction",
        {"reason": "wrong date", "effective_on": "2025-06-15", "note": "n"},
        201,
    ),
}
# The free-text field of each body, for the string cases.
TEXT_FIELD = {
    "groups": "name",
    "accessions": "note",
    "withdrawals": "note",
    "announcements": "note",
    "instruments": "name",
    "commitments": "note",
    "reports": "note",
    "participants": "name",
    "retraction": "reason",
    "correction": "reason",
}
REQUIRED = {
    "groups": ["slug", "name", "established_on", "member_kinds"],
    "accessions": ["participant", "effective_on"],
    "withdrawals": ["participant", "effective_on"],
    "announcements": ["as_of", "count", "source"],
    "instruments": ["slug", "name", "adopted_on"],
    "commitments": ["participant", "effective_on"],
    "reports": ["participant", "effective_on", "sources"],
    "participants": ["code", "name", "kind"],
    "retraction": ["reason"],
    "correction": ["reason"],
}
DATE_FIELDS = {
    "groups": ["established_on"],
    "accessions": ["effective_on", "earliest_on"],
    "withdrawals": ["effective_on"],
    "announcements": ["as_of"],
    "instruments": ["adopted_on"],
    "commitments": ["effective_on"],
    "reports": ["effective_on"],
    "correction": ["effective_on", "earliest_on"],
}
# Impossible dates, and dates not written YYYY-MM-DD (ISO 8601 basic and week forms included).
BAD_DATES = ["2025-02-30", "0000-01-01", "tomorrow", "2025-13-01", "", "20250601", "2025-W01-1"]

DELETE = object()


def changed(**changes):
    """The valid body with some fields replaced (or removed, given ``DELETE``)."""

    def build(body: dict) -> tuple[str, str]:
        new = {**body, **changes}
        return json.dumps({k: v for k, v in new.items() if v is not DELETE}), "application/json"

    return build


def raw(text: str | bytes, content_type: str | None = "application/json"):
    """A body sent exactly as given."""
    return lambda _body: (text, content_type)


def escaped(field: str, json_escape: str):
    """The valid body with ``field`` set to a string holding a JSON escape, sent as JSON text."""

    def build(body: dict) -> tuple[str, str]:
        text = json.dumps({**body, field: "MARK"})
        return text.replace('"MARK"', f'"a{json_escape}b"'), "application/json"

    return build


def case(endpoint: str, name: str, make, status: int, field: str | None = None, world=True):
    """One bad write; ``world``: whether the refusal depends on what is recorded."""
    return pytest.param(endpoint, make, status, field, world, id=f"{endpoint}-{name}")


def generic(*args):
    """A case refused by the checks every body goes through, before any rule of the domain."""
    return case(*args, world=False)


def generic_cases():
    """What every write endpoint refuses the same way."""
    for endpoint in VALID:
        text = TEXT_FIELD[endpoint]
        yield generic(endpoint, "malformed-json", raw('{"reason": '), 400)
        yield generic(endpoint, "trailing-garbage", raw('{"a": 1} x'), 400)
        yield generic(endpoint, "invalid-utf8", raw(b'{"note": "\xff"}'), 400)
        yield generic(endpoint, "json-array", raw("[]"), 400)
        yield generic(endpoint, "json-array-of-object", raw('[{"reason": "x"}]'), 400)
        yield generic(endpoint, "json-string", raw('"text"'), 400)
        yield generic(endpoint, "json-number", raw("42"), 400)
        yield generic(endpoint, "json-null", raw("null"), 400)
        yield generic(endpoint, "empty-body", raw(""), 400)
        yield generic(endpoint, "deeply-nested", raw("[" * 100_000 + "]" * 100_000), 400)
        yield generic(endpoint, "unknown-field", changed(unexpected=1), 422, "unexpected")
        yield generic(endpoint, "text-plain", raw("{}", "text/plain"), 415)
        yield generic(endpoint, "form", raw("reason=x", "application/x-www-form-urlencoded"), 415)
        yield generic(endpoint, "no-content-type", raw("{}", None), 415)
        yield generic(endpoint, "xml", raw("<reason/>", "application/xml"), 415)
        yield generic(endpoint, "over-1-mib", raw('{"note": "' + "x" * MIB + '"}'), 413)
        yield generic(endpoint, "nul", escaped(text, "\\u0000"), 422, text)
        yield generic(endpoint, "lone-high-surrogate", escaped(text, "\\ud800"), 422, text)
        yield generic(endpoint, "lone-low-surrogate", escaped(text, "\\udfff"), 422, text)
        yield generic(endpoint, "100kb-string", changed(**{text: BIG}), 422, text)
        yield generic(endpoint, "text-as-number", changed(**{text: 5}), 422, text)
        yield generic(endpoint, "text-as-list", changed(**{text: ["a"]}), 422, text)
        for field in REQUIRED[endpoint]:
            yield generic(endpoint, f"missing-{field}", changed(**{field: DELETE}), 422, field)
            yield generic(endpoint, f"null-{field}", changed(**{field: None}), 422, field)
        for field in DATE_FIELDS.get(endpoint, []):
            for value in BAD_DATES:
                yield generic(endpoint, f"{field}={value!r}", changed(**{field: value}), 422, field)
            yield generic(endpoint, f"{field}-as-number", changed(**{field: 20250601}), 422, field)


def specific_cases():
    """Wrong types, out-of-range dates, unknown codes and huge arrays, endpoint by endpoint."""
    sources = [{"url": URL}] * 10_000
    yield from [
        # groups
        case("groups", "slug-upper-case", changed(slug="GPAI"), 422, "slug"),
        case("groups", "slug-leading-dash", changed(slug="-gpai"), 422, "slug"),
        case("groups", "slug-sql", changed(slug="x'; drop table groups; --"), 422, "slug"),
        case("groups", "member-kinds-string", changed(member_kinds="country"), 422, "member_kinds"),
        case("groups", "member-kinds-empty", changed(member_kinds=[]), 422, "member_kinds"),
        case(
            "groups", "member-kinds-unknown", changed(member_kinds=["alien"]), 422, "member_kinds"
        ),
        case(
            "groups",
            "member-kinds-10000",
            changed(member_kinds=["country"] * 10_000),
            422,
            "member_kinds",
        ),
        case("groups", "url-javascript", changed(url="javascript:alert(1)"), 422, "url"),
        case("groups", "url-relative", changed(url="/press/1"), 422, "url"),
        case("groups", "duplicate-slug", changed(slug=GROUP), 409, "slug"),
        # accessions
        case("accessions", "participant-number", changed(participant=12), 422, "participant"),
        case("accessions", "participant-unknown", changed(participant="XXX"), 422, "participant"),
        case("accessions", "participant-unknown-2", changed(participant="ZZ"), 422, "participant"),
        case("accessions", "participant-one-char", changed(participant="K"), 422, "participant"),
        case("accessions", "participant-space", changed(participant="KE N"), 422, "participant"),
        case("accessions", "participant-empty", changed(participant=""), 422, "participant"),
        case(
            "accessions", "participant-33-chars", changed(participant="A" * 33), 422, "participant"
        ),
        case(
            "accessions",
            "participant-100kb",
            changed(participant="A" * 100_000),
            422,
            "participant",
        ),
        case(
            "accessions", "participant-nul", escaped("participant", "\\u0000"), 422, "participant"
        ),
        case(
            "accessions",
            "participant-surrogate",
            escaped("participant", "\\ud800"),
            422,
            "participant",
        ),
        case(
            "accessions",
            "participant-kind-not-admitted",
            changed(participant="ACME"),
            422,
            "participant",
        ),
        case(
            "accessions",
            "before-established-on",
            changed(effective_on="2024-05-01", earliest_on=None),
            422,
            "effective_on",
        ),
        case(
            "accessions", "earliest-before-established-on", changed(earliest_on="2024-05-01"), 422
        ),
        case("accessions", "more-than-366-days-ahead", changed(effective_on=FAR), 422),
        case(
            "accessions",
            "earliest-after-effective",
            changed(earliest_on="2025-01-02"),
            422,
            "earliest_on",
        ),
        case("accessions", "already-member", changed(participant="KEN"), 409, "effective_on"),
        case("accessions", "sources-object", changed(sources={"url": URL}), 422, "sources"),
        case("accessions", "sources-strings", changed(sources=[URL]), 422, "sources"),
        case("accessions", "sources-21", changed(sources=[{"url": URL}] * 21), 422, "sources"),
        case("accessions", "sources-10000", changed(sources=sources), 422, "sources"),
        case(
            "accessions",
            "sources-10000-invalid",
            changed(sources=[{"url": "nope"}] * 10_000),
            422,
            "sources",
        ),
        case("accessions", "source-no-url", changed(sources=[{"title": "t"}]), 422, "sources"),
        case("accessions", "source-ftp", changed(sources=[{"url": "ftp://x.org/a"}]), 422),
        case("accessions", "source-url-100kb", changed(sources=[{"url": URL + BIG}]), 422),
        case(
            "accessions",
            "source-published-on",
            changed(sources=[{"url": URL, "published_on": "2025-02-30"}]),
            422,
            "sources",
        ),
        case(
            "accessions",
            "source-reliability",
            changed(sources=[{"url": URL, "reliability": "rumour"}]),
            422,
            "sources",
        ),
        case(
            "accessions",
            "source-unknown-field",
            changed(sources=[{"url": URL, "secret": 1}]),
            422,
            "sources",
        ),
        # withdrawals
        case("withdrawals", "not-a-member", changed(participant="FRA"), 409, "effective_on"),
        case("withdrawals", "more-than-366-days-ahead", changed(effective_on=FAR), 422),
        case("withdrawals", "before-established-on", changed(effective_on="2024-01-01"), 422),
        case("withdrawals", "earliest-as-number", changed(earliest_on=1), 422, "earliest_on"),
        case("withdrawals", "participant-unknown", changed(participant="NOPE"), 422, "participant"),
        # announcements
        case("announcements", "count-string", changed(count="55"), 422, "count"),
        case("announcements", "count-float", changed(count=55.5), 422, "count"),
        case("announcements", "count-bool", changed(count=True), 422, "count"),
        case("announcements", "count-negative", changed(count=-1), 422, "count"),
        case("announcements", "count-huge", changed(count=10**30), 422, "count"),
        case("announcements", "source-list", changed(source=[{"url": URL}]), 422, "source"),
        case("announcements", "source-bad-url", changed(source={"url": "x"}), 422, "source"),
        # instruments
        case("instruments", "unknown-group", changed(group="no-such-group"), 422, "group"),
        case(
            "instruments",
            "provisions-object",
            changed(provisions={"number": 1, "title": "t"}),
            422,
            "provisions",
        ),
        case(
            "instruments",
            "provision-number-string",
            changed(provisions=[{"number": "1", "title": "t"}]),
            422,
            "provisions",
        ),
        case(
            "instruments",
            "provision-number-zero",
            changed(provisions=[{"number": 0, "title": "t"}]),
            422,
            "provisions",
        ),
        case(
            "instruments",
            "provision-numbers-repeat",
            changed(provisions=[{"number": 1, "title": "a"}, {"number": 1, "title": "b"}]),
            422,
            "provisions",
        ),
        case(
            "instruments",
            "provisions-10000",
            changed(provisions=[{"number": n, "title": "t"} for n in range(1, 10_001)]),
            422,
            "provisions",
        ),
        case("instruments", "duplicate-slug", changed(slug=INSTRUMENT), 409, "slug"),
        # commitments
        case("commitments", "provisions-string", changed(provisions="all"), 422, "provisions"),
        case("commitments", "provisions-empty", changed(provisions=[]), 422, "provisions"),
        case("commitments", "provisions-float", changed(provisions=[1.5]), 422, "provisions"),
        case("commitments", "provisions-bool", changed(provisions=[True]), 422, "provisions"),
        case("commitments", "provisions-string-item", changed(provisions=["1"]), 422, "provisions"),
        case("commitments", "provision-unknown", changed(provisions=[12]), 422, "provisions"),
        case("commitments", "provisions-repeat", changed(provisions=[1, 1]), 422, "provisions"),
        case(
            "commitments",
            "provisions-10000",
            changed(provisions=list(range(1, 10_001))),
            422,
            "provisions",
        ),
        case(
            "commitments",
            "before-adopted-on",
            changed(effective_on="2023-10-29"),
            422,
            "effective_on",
        ),
        case("commitments", "more-than-366-days-ahead", changed(effective_on=FAR), 422),
        case("commitments", "participant-unknown", changed(participant="NOPE"), 422, "participant"),
        # reports
        case("reports", "no-sources", changed(sources=[]), 422, "sources"),
        case("reports", "sources-10000", changed(sources=sources), 422, "sources"),
        case("reports", "provisions", changed(provisions=[1]), 422, "provisions"),
        case("reports", "no-commitment", changed(participant="FRA"), 409, "effective_on"),
        case("reports", "more-than-366-days-ahead", changed(effective_on=FAR), 422),
        # participants
        case("participants", "kind-country", changed(kind="country"), 422, "kind"),
        case("participants", "kind-unknown", changed(kind="planet"), 422, "kind"),
        case("participants", "iso-code", changed(code="KEN"), 422, "code"),
        case("participants", "iso-code-alpha-2-lower", changed(code="ke"), 422, "code"),
        case("participants", "code-list", changed(code=["ACME"]), 422, "code"),
        case("participants", "code-punctuation", changed(code="AC ME!"), 422, "code"),
        case("participants", "code-nul", escaped("code", "\\u0000"), 422, "code"),
        case("participants", "duplicate-code", changed(code="ACME"), 409, "code"),
        case("participants", "url-ftp", changed(url="ftp://example.org"), 422, "url"),
        case("participants", "name-empty", changed(name=""), 422, "name"),
        # retraction
        case("retraction", "reason-empty", changed(reason=""), 422, "reason"),
        case("retraction", "reason-5001", changed(reason="x" * 5001), 422, "reason"),
        # correction
        case("correction", "before-established-on", changed(effective_on="2024-05-01"), 422),
        case("correction", "more-than-366-days-ahead", changed(effective_on=FAR), 422),
        case("correction", "earliest-after-effective", changed(earliest_on="2025-07-01"), 422),
        case("correction", "provisions-on-accession", changed(provisions=[1]), 422, "provisions"),
        case("correction", "sources-null", changed(sources=None), 422, "sources"),
        case("correction", "sources-10000", changed(sources=sources), 422, "sources"),
        case("correction", "participant", changed(participant="FRA"), 422, "participant"),
        case("correction", "type", changed(type="withdrawal"), 422, "type"),
    ]


@pytest.fixture
def world(client, auth):
    """The groups, the instrument, KEN a member, JPN committed, and the organisation ACME."""
    made = make_world(client, auth)
    response = client.post(
        f"{API}/participants",
        json={"code": "ACME", "name": "Acme", "kind": "organisation"},
        headers=auth,
    )
    assert response.status_code == 201
    return made


def send(client, auth, endpoint: str, world, make=None):
    path, body, _status = VALID[endpoint]
    data, content_type = make(body) if make else changed()(body)
    headers = dict(auth)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post(
        API + path.format(accession=world.accession_id),
        data=data if isinstance(data, bytes) else data.encode("utf-8"),
        headers=headers,
    )


@pytest.mark.parametrize("endpoint", VALID)
def test_the_valid_body_is_accepted(app, client, auth, world, endpoint):
    """The baseline each bad case departs from: without the defect, the write succeeds."""
    before = snapshot(app)
    response = send(client, auth, endpoint, world)
    assert response.status_code == VALID[endpoint][2], response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(app) != before


@pytest.mark.parametrize(
    ("endpoint", "make", "status", "field", "needs_world"),
    [*generic_cases(), *specific_cases()],
)
def test_bad_write_is_refused_and_writes_nothing(
    request, app, client, auth, endpoint, make, status, field, needs_world
):
    # The resources need not exist for a refusal by the body checks: the route is enough.
    world = request.getfixturevalue("world") if needs_world else World(1, 2)
    before = snapshot(app)
    response = send(client, auth, endpoint, world, make)
    assert_problem(response, status, field=field)
    # One message per field, not one per item of a huge array.
    assert len(response.data) < 10_000
    assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("endpoint", "code", "stored"),
    [
        ("accessions", "fra", "FRA"),
        ("accessions", "fr", "FRA"),
        ("accessions", "Fra", "FRA"),
        ("withdrawals", "ken", "KEN"),
        ("withdrawals", "ke", "KEN"),
        ("commitments", "fra", "FRA"),
        ("reports", "jp", "JPN"),
        ("reports", "jpn", "JPN"),
    ],
)
def test_mis_cased_iso_codes_are_accepted(client, auth, world, endpoint, code, stored):
    """Any ISO 3166-1 alpha-2/alpha-3 code, in any case, names the country."""
    response = send(client, auth, endpoint, world, changed(participant=code))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["participant"]["code"] == stored


def test_surrogate_pairs_are_text_not_lone_surrogates(client, auth, world):
    response = send(client, auth, "accessions", world, escaped("note", "\\ud83c\\udf0f"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["note"] == "a\U0001f30fb"


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"],
)
def test_json_content_type_variants_are_accepted(client, auth, world, content_type):
    response = send(
        client, auth, "accessions", world, raw(json.dumps(VALID["accessions"][1]), content_type)
    )
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "content_type", ["text/json", "application/json-seq", "application/merge-patch+json", "*/*"]
)
def test_other_content_types_are_415(app, client, auth, content_type):
    before = snapshot(app)
    response = send(client, auth, "accessions", World(1, 2), raw("{}", content_type))
    assert_problem(response, 415)
    assert snapshot(app) == before


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "a\x00b", "bell\x07", "tab\tkey"], ids=repr)
def test_a_bad_idempotency_key_is_422(app, client, auth, world, key):
    before = snapshot(app)
    headers = {**auth, "Idempotency-Key": key}
    body = VALID["accessions"][1]
    response = client.post(f"{API}{VALID['accessions'][0]}", json=body, headers=headers)
    assert_problem(response, 422, field="Idempotency-Key")
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        ("accessions", "/groups/no-such-group/accessions"),
        ("withdrawals", "/groups/no-such-group/withdrawals"),
        ("announcements", "/groups/no-such-group/announcements"),
        ("commitments", "/instruments/no-such-instrument/commitments"),
        ("reports", "/instruments/no-such-instrument/reports"),
        ("withdrawals", "/instruments/no-such-instrument/withdrawals"),
        ("retraction", "/events/999999/retraction"),
        ("correction", "/events/99999999999999999999999/correction"),
        ("retraction", "/events/2147483648/retraction"),
        ("correction", "/events/9223372036854775807/correction"),
        ("accessions", "/groups/a%00b/accessions"),
    ],
)
def test_writes_to_unknown_resources_are_404(app, client, auth, world, endpoint, path):
    before = snapshot(app)
    response = client.post(API + path, json=VALID[endpoint][1], headers=auth)
    assert_problem(response, 404)
    assert snapshot(app) == before


# --- query arguments ---------------------------------------------------------------------------


def cursor(text: str) -> str:
    """A forged cursor: the given JSON text, encoded as the service encodes its own."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LISTS = [
    "/groups",
    "/instruments",
    "/participants",
    f"/groups/{GROUP}/events",
    f"/groups/{GROUP}/announcements",
    f"/instruments/{INSTRUMENT}/events",
    "/participants/KEN/events",
]
REPORTS = [
    f"/groups/{GROUP}/members",
    f"/instruments/{INSTRUMENT}/participants",
    "/participants/KEN",
]
SERIES = [f"/groups/{GROUP}/counts", f"/instruments/{INSTRUMENT}/counts"]


def query_cases():
    for path in LISTS:
        for value in ["0", "-1", "501", "10" * 15, "ten", "", "1.5"]:
            yield pytest.param(f"{path}?limit={value}", 422, "limit", id=f"{path}-limit={value}")
        forged = [
            "abc",
            "!!!!",
            "%C3%A9",
            "x" * 501,
            cursor("[]"),
            cursor('{"a": 1}'),
            cursor("[1, 2, 3]"),
            cursor('["\\u0000"]'),
            cursor('["\\ud800"]'),
            cursor('["2025-13-01", 1]'),
            cursor('["2025-01-01", 1e999]'),
            cursor('["2025-01-01", 99999999999999999999999]'),
            cursor('["2025-01-01", "1"]'),
            cursor("[null, null]"),
            cursor('[["x"]]'),
        ]
        # Every forgery on one list of each key type (text; date and id), a few on the others.
        if path not in ("/groups", f"/groups/{GROUP}/events"):
            forged = forged[:4] + forged[7:9]
        for value in forged:
            yield pytest.param(
                f"{path}?cursor={value}", 422, "cursor", id=f"{path}-cursor={value[:12]}"
            )
        yield pytest.param(f"{path}?format=xml", 422, "format", id=f"{path}-format=xml")
    for path in [p for p in LISTS if p.endswith("/events")]:
        for arg, value in [
            ("type", "treaty"),
            ("include_retracted", "maybe"),
            ("participant", "%00"),
            ("participant", "K"),
            ("known_at", "yesterday"),
            ("known_at", "2025-02-30T00:00:00Z"),
        ]:
            yield pytest.param(f"{path}?{arg}={value}", 422, arg, id=f"{path}-{arg}={value}")
    for arg, value in [("kind", "planet"), ("q", "%00"), ("region", "%00"), ("q", "x" * 301)]:
        yield pytest.param(
            f"/participants?{arg}={value}", 422, arg, id=f"participants-{arg}={value[:8]}"
        )
    for path in REPORTS:
        for value in ["2025-02-30", "0000-01-01", "tomorrow", "2025-06-01T00:00:00Z%00"]:
            yield pytest.param(f"{path}?as_of={value}", 422, "as_of", id=f"{path}-as_of={value}")
        for value in [
            "yesterday",
            "2025-02-30T00:00:00Z",
            "0001-01-01T00:00:00%2B05:00",
            "9999-12-31T23:59:59-05:00",
        ]:
            yield pytest.param(
                f"{path}?known_at={value}", 422, "known_at", id=f"{path}-known_at={value}"
            )
    yield pytest.param(
        f"/instruments/{INSTRUMENT}/participants?members_of=Not%20A%20Slug",
        422,
        "members_of",
        id="members_of-not-a-slug",
    )
    yield pytest.param(
        f"/instruments/{INSTRUMENT}/participants?members_of=no-such-group",
        404,
        None,
        id="members_of-unknown",
    )
    for path in SERIES:
        for arg in ["from", "to"]:
            for value in ["2025-02-30", "0000-01-01", "tomorrow"]:
                yield pytest.param(f"{path}?{arg}={value}", 422, arg, id=f"{path}-{arg}={value}")
        yield pytest.param(
            f"{path}?from=2025-01-02&to=2025-01-01", 422, "from", id=f"{path}-from-after-to"
        )
        yield pytest.param(f"{path}?interval=fortnight", 422, "interval", id=f"{path}-fortnight")
        yield pytest.param(
            f"{path}?from=0001-01-01&to=9000-12-31&interval=day",
            422,
            "interval",
            id=f"{path}-over-10000-points",
        )
        yield pytest.param(
            f"{path}?to=9999-12-31&interval=year",
            200,
            None,
            id=f"{path}-to-date-max",
        )
        yield pytest.param(
            f"{path}?from=9999-12-01&to=9999-12-31&interval=week",
            200,
            None,
            id=f"{path}-week-at-date-max",
        )
    for path in [
        "/participants/%00",
        "/participants/K%00N/events",
        "/groups/%00",
        f"/groups/{GROUP}%00/members",
        "/instruments/%00/counts",
        "/events/-1",
        "/events/2147483648",
        "/events/9223372036854775807",
        "/events/99999999999999999999999",
        "/groups/x'%20OR%20'1'='1/members",
    ]:
        yield pytest.param(path, 404, None, id=f"path-{path}")


# Query arguments refused while they are parsed, before any lookup.
PARSED_ARGUMENTS = {
    "limit",
    "format",
    "type",
    "include_retracted",
    "participant",
    "known_at",
    "as_of",
    "kind",
    "q",
    "region",
    "members_of",
}


@pytest.mark.parametrize(("path", "status", "field"), list(query_cases()))
def test_bad_query_is_refused(request, app, client, path, status, field):
    if not (status == 422 and field in PARSED_ARGUMENTS):
        request.getfixturevalue("world")
    before = snapshot(app)
    response = client.get(API + path)
    if status == 200:
        assert response.status_code == 200, response.get_json()
    else:
        assert_problem(response, status, field=field)
    assert snapshot(app) == before


# --- injection and text that is not ASCII ---------------------------------------------------------

INJECTIONS = [
    "Robert'); DROP TABLE participants;--",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM events WHERE 1=1",
    '=HYPERLINK("https://evil.example","click")',
    "=1+2",
    "+SUM(A1:A9)",
    "-2+3",
    "@SUM(A1)",
    "\t=1+2",
    "\r=1+2",
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "%s%s%s%n",
    "{{7*7}}",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_stored_verbatim_and_neutralised_in_csv(session, client, auth, text):
    """SQL and formula injection: kept as data, returned as given, harmless in a spreadsheet."""
    response = client.post(
        f"{API}/participants",
        json={"code": "INJECTED", "name": text, "kind": "organisation"},
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == text
    assert client.get(f"{API}/participants/INJECTED").get_json()["name"] == text
    listed = client.get(f"{API}/participants").get_json()["items"]
    assert [p["name"] for p in listed] == [text]

    for exported in [
        client.get(f"{API}/participants?format=csv"),
        client.get(f"{API}/participants", headers={"Accept": "text/csv"}),
    ]:
        assert exported.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
        cell = rows[0]["name"]
        if text.startswith(("=", "+", "-", "@", "\t", "\r")):
            assert cell == "'" + text
        else:
            assert cell == text
    assert row_counts(session)["participants"] == 1


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_queries_are_only_data(app, client, auth, text):
    client.post(
        f"{API}/participants",
        json={"code": "ACME", "name": "Acme", "kind": "organisation"},
        headers=auth,
    )
    for arg in ["q", "region"]:
        response = client.get(f"{API}/participants", query_string={arg: text})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["items"] == []
    assert client.get(f"{API}/participants").get_json()["items"][0]["code"] == "ACME"


def test_formula_in_an_event_note_is_neutralised_in_the_event_csv(client, auth):
    make_world(client, auth)
    note = '=HYPERLINK("https://evil.example")'
    response = client.post(
        f"{API}/groups/{GROUP}/accessions",
        json={
            "participant": "FRA",
            "effective_on": "2025-01-01",
            "note": note,
            "sources": [{"url": URL, "title": "-1+1"}],
        },
        headers=auth,
    )
    assert response.status_code == 201
    assert response.get_json()["note"] == note
    exported = client.get(f"{API}/groups/{GROUP}/events?format=csv&participant=FRA")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0]["note"] == "'" + note


NAMES = [
    "広島AIプロセス・フレンズグループ事務局",
    "منظمة الذكاء الاصطناعي العربية",
    "🤖🌏 Friends of AI 🎌",
    "Ελληνικός Οργανισμός",
    "Zoë Ångström-Øster",
    "עִברִית\u200fשם",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱",
]


@pytest.mark.parametrize("name", NAMES)
def test_unicode_names_round_trip(client, auth, name):
    response = client.post(
        f"{API}/participants",
        json={"code": "UNICODE-ORG", "name": name, "kind": "organisation"},
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == name
    assert client.get(f"{API}/participants/unicode-org").get_json()["name"] == name
    found = client.get(f"{API}/participants", query_string={"q": name[1:4]}).get_json()
    assert [p["name"] for p in found["items"]] == [name]
    exported = client.get(f"{API}/participants?format=csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8"))))
    assert rows[0]["name"] == name
