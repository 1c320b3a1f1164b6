"""Hostile framing against the real server: chunked bodies that are malformed or over the
limit."""

import http.client
import json
import socket
from dataclasses import dataclass

import pytest
import requests

from tests.support import API, FRIENDS, assert_problem, running_server, snapshot

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
