"""Hostile framing against the real server: chunked bodies that are malformed or over the
limit, and keep-alive connections after an answer that left the body unread."""

import http.client
import io
import json
import re
import socket
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlencode

import pytest
import requests

from friendsgroup.api.pages import encode_cursor
from friendsgroup.keepalive import WatchedBody, body_length, closing_unread_bodies
from friendsgroup.server import LIMIT_REQUEST_LINE
from tests.support import API, FRIENDS, assert_problem, running_server, snapshot
from tests.test_contract import DOCUMENT

TIMEOUT = 20
LIMIT = 1024 * 1024  # MAX_CONTENT_LENGTH's default


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    with running_server(database_url, tmp_path_factory.mktemp("framing"), workers=1) as running:
        yield running
    log = running.log()
    assert "Traceback" not in log and '" 500 ' not in log, log[-3000:]


@dataclass
class Answer:
    """A raw HTTP answer, shaped like a test client's response for ``assert_problem``."""

    status_code: int
    headers: http.client.HTTPMessage
    data: bytes

    @property
    def mimetype(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0]

    def get_json(self):
        return json.loads(self.data)

    def get_data(self, as_text=False):
        return self.data.decode() if as_text else self.data


def exchange(server, raw: bytes) -> Answer:
    """Send ``raw`` bytes on a new connection and read the one answer."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, response.headers, response.read())


def chunked_post(auth: dict, body: bytes, path: str = f"{API}/groups") -> bytes:
    """A POST whose body is ``body`` as sent, framed by the caller."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: registry\r\n"
        f"Authorization: {auth['Authorization']}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def group(slug: str, **extra) -> bytes:
    return json.dumps({**FRIENDS, "slug": slug, **extra}).encode()


MALFORMED = {
    "chunk size not hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "trailer not a header": chunk(group("g-trailer")) + b"0\r\nnot a header\r\n\r\n",
    "chunk without its terminator": b"5\r\n{}abcdef\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("framing", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_chunked_body_is_a_400_and_writes_nothing(app, server, auth, framing):
    before = snapshot(app)
    answer = exchange(server, chunked_post(auth, framing))
    assert_problem(answer, 400, "bad-request", field="body")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert snapshot(app) == before


OVER_THE_LIMIT = {
    "1.5 MiB of JSON": group("g-big", description="x" * (LIMIT + LIMIT // 2)),
    "JSON then 2 MiB of spaces": group("g-padded") + b" " * (2 * LIMIT),
    "over the limit in many chunks": b"",
}


@pytest.mark.parametrize("body", OVER_THE_LIMIT.values(), ids=OVER_THE_LIMIT.keys())
def test_a_chunked_body_over_the_limit_is_a_413_never_truncated(app, server, auth, body):
    before = snapshot(app)
    if body:
        framed = chunk(body) + b"0\r\n\r\n"
    else:
        framed = chunk(group("g-many")) + chunk(b" " * 1000) * (LIMIT // 1000 + 1) + b"0\r\n\r\n"
    answer = exchange(server, chunked_post(auth, framed))
    assert_problem(answer, 413, "payload-too-large")
    assert snapshot(app) == before


def test_a_chunked_body_within_the_limit_is_read_whole(app, server, auth):
    body = group("g-chunked")
    padded = body + b" " * (LIMIT - len(body))  # exactly the limit
    framed = b"".join(chunk(padded[i : i + 4096]) for i in range(0, len(padded), 4096))
    answer = exchange(server, chunked_post(auth, framed + b"0\r\n\r\n"))
    assert answer.status_code == 201, answer.data
    got = requests.get(f"{server.url}{API}/groups/g-chunked", timeout=TIMEOUT)
    assert got.json()["name"] == FRIENDS["name"]


# --- keep-alive after an answer that left the body unread ------------------------------------

BIG = b'{"name": "' + b"x" * (2 * LIMIT) + b'"}'
MEDIUM = b'{"name": "' + b"x" * (200 * 1024) + b'"}'


def unread_body_requests(auth: dict) -> dict[str, tuple[int, dict]]:
    json_type = {"Content-Type": "application/json"}
    return {
        "413 over the limit": (413, dict(data=BIG, headers={**auth, **json_type})),
        "401 without a token": (401, dict(data=MEDIUM, headers=json_type)),
        "401 without a token, large": (401, dict(data=BIG, headers=json_type)),
        "415 not JSON": (415, dict(data=MEDIUM, headers={**auth, "Content-Type": "text/plain"})),
        "404 unknown path": (404, dict(data=MEDIUM, headers={**auth, **json_type}, path="/x")),
        "405 a read-only path": (
            405,
            dict(data=MEDIUM, headers={**auth, **json_type}, path="/groups/nowhere/members"),
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["413 over the limit", "401 without a token", "401 without a token, large", "415 not JSON"]
    + ["404 unknown path", "405 a read-only path"],
)
def test_an_unread_body_closes_the_connection_and_the_next_request_works(app, server, auth, case):
    status, request = unread_body_requests(auth)[case]
    path = request.pop("path", "/groups")
    with requests.Session() as session:
        refused = session.post(f"{server.url}{API}{path}", timeout=TIMEOUT, **request)
        assert_problem(_as_answer(refused), status)
        assert refused.headers["Connection"] == "close"
        for _ in range(3):
            assert session.get(f"{server.url}/healthz", timeout=TIMEOUT).status_code == 200


def test_a_body_read_whole_keeps_the_connection(app, server, auth):
    with requests.Session() as session:
        created = session.post(f"{server.url}{API}/groups", json=FRIENDS, headers=auth)
        assert created.status_code == 201, created.text
        assert created.headers["Connection"] == "keep-alive"
        invalid = session.post(f"{server.url}{API}/groups", json={"slug": "x"}, headers=auth)
        assert_problem(_as_answer(invalid), 422)
        assert invalid.headers["Connection"] == "keep-alive"
        assert session.get(f"{server.url}/healthz", timeout=TIMEOUT).status_code == 200


def _as_answer(response: requests.Response) -> Answer:
    return Answer(response.status_code, response.headers, response.content)


def test_a_watched_body_knows_when_it_was_read_to_its_end():
    length = WatchedBody(io.BytesIO(b"abcdef"), 6)
    assert not length.finished
    assert length.read(4) == b"abcd" and not length.finished
    assert length.read(0) == b"" and not length.finished
    assert length.read(2) == b"ef" and length.finished
    chunked = WatchedBody(io.BytesIO(b"a\nb\n"), None)
    assert chunked.readlines() == [b"a\n", b"b\n"] and chunked.finished
    assert WatchedBody(io.BytesIO(b""), 0).finished
    assert body_length({"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "5"}) is None
    assert body_length({"CONTENT_LENGTH": "5"}) == 5
    assert body_length({}) == 0


def test_an_unread_body_asks_the_server_to_close_and_a_read_one_does_not():
    closed = []

    class Response:
        def force_close(self):
            closed.append(True)

        def start_response(self, status, headers, exc_info=None):
            return None

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/read":
            environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    wrapped = closing_unread_bodies(app)
    for path in ("/read", "/unread"):
        environ = {"PATH_INFO": path, "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}
        wrapped(environ, Response().start_response)
    assert closed == [True]
    # A start_response of another server, with no force_close, is left alone.
    wrapped({"PATH_INFO": "/", "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}, print)


# --- the server's own answers and the length of a request line --------------------------------

SERVER_REFUSALS = {
    "request line over the limit": (
        414,
        "uri-too-long",
        f"GET {API}/participants?q={'a' * (LIMIT_REQUEST_LINE + 10)} HTTP/1.1\r\nHost: r\r\n\r\n",
    ),
    "too many header fields": (
        431,
        "header-fields-too-large",
        "GET /healthz HTTP/1.1\r\nHost: r\r\n"
        + "".join(f"X-{i}: 1\r\n" for i in range(60))
        + "\r\n",
    ),
    "a header field over the limit": (
        431,
        "header-fields-too-large",
        f"GET /healthz HTTP/1.1\r\nHost: r\r\nX-Big: {'a' * 9000}\r\n\r\n",
    ),
    "not a request line": (400, "bad-request", "GARBAGE\r\n\r\n"),
    "a header name with a space": (400, "bad-request", "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n"),
}


@pytest.mark.parametrize("case", SERVER_REFUSALS.values(), ids=SERVER_REFUSALS.keys())
def test_the_servers_own_refusals_are_problems_with_the_security_headers(server, case):
    status, type_, raw = case
    answer = exchange(server, raw.encode())
    body = assert_problem(answer, status, type_)
    assert body["detail"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Connection"] == "close"


# Bytes one character of a parameter can take in a URL: an ASCII one percent-encoded (%XX), or
# four UTF-8 bytes percent-encoded where the document allows any character.
PATTERNED, ANY = 3, 12
ID = len(str(2**31 - 1))
# The string path keys of resources that exist (integer keys are ids, at most ID digits).
PATH_KEYS = {"slug": 64 * PATTERNED, "code": 32 * PATTERNED}


def longest_in_a_url(schema: dict) -> int:
    """The most bytes a value the document admits can take in a query string."""
    if "enum" in schema:
        return max(len(quote(str(value), safe="")) for value in schema["enum"] if value is not None)
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    [kind] = [k for k in kinds if k != "null"]
    if kind == "integer":
        return len(str(schema["maximum"]))
    if kind == "boolean":
        return len("false")
    if schema.get("format") == "date":
        return len("2025-01-01")
    assert kind == "string" and "maxLength" in schema, f"an unbounded parameter: {schema}"
    return schema["maxLength"] * (PATTERNED if "pattern" in schema else ANY)


def longest_request_lines() -> list[tuple[int, str]]:
    """For each GET operation, the longest request line of parameters the document admits."""
    lines = []
    for path, item in DOCUMENT["paths"].items():
        if "get" not in item:
            continue
        length = len(re.sub(r"\{[^}]+\}", "", path))
        for parameter in item.get("parameters", []):
            integer = parameter["schema"]["type"] == "integer"
            length += ID if integer else PATH_KEYS[parameter["name"]]
        for parameter in item["get"].get("parameters", []):
            if parameter["in"] == "query":
                length += len(f"&{parameter['name']}=") + longest_in_a_url(parameter["schema"])
        lines.append((len("GET  HTTP/1.1") + length, path))
    return lines


def test_every_request_the_document_admits_fits_the_request_line():
    longest, path = max(longest_request_lines())
    assert longest <= LIMIT_REQUEST_LINE, (longest, path)
    # The cursors the service issues are far within their 500 characters.
    keys = [["z" * 64], [date(9999, 12, 31), 2**31 - 1], [2**63 - 1]]
    assert max(len(encode_cursor(values)) for values in keys) < 200


def test_the_longest_admitted_request_line_reaches_the_api(server):
    clef = "\U0001d11e"  # four bytes of UTF-8, twelve in a URL
    query = {
        "q": clef * 300,
        "region": clef * 64,
        "kind": "organisation",
        "cursor": "A" * 500,
        "limit": 500,
        "format": "xlsx",
        "bom": "false",
    }
    url = f"{server.url}{API}/participants?{urlencode(query)}"
    assert len(url) > 4800  # q and region at twelve bytes a character
    refused = requests.get(url, timeout=TIMEOUT)
    # Not a 414: the cursor is the right shape but not one the service issued.
    assert_problem(_as_answer(refused), 422, field="cursor")
