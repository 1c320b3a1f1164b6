"""Request ids: the client's ``X-Request-Id`` when it is sane, else a new one; on every response."""

import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
MAX_LENGTH = 128


def is_valid(value: str) -> bool:
    """1-128 printable ASCII characters, no spaces: safe in a log line and a header."""
    return (
        0 < len(value) <= MAX_LENGTH
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def assign() -> None:
    """Take the request's id from its header, or make one (a bad id is replaced, not refused)."""
    given = request.headers.get(HEADER, "")
    g.request_id = given if is_valid(given) else uuid.uuid4().hex


def current() -> str | None:
    """The id of the request being handled, or None outside a request."""
    if not has_request_context():
        return None
    return g.get("request_id")


def echo(response):
    """Send the request's id back."""
    request_id = current()
    if request_id:
        response.headers[HEADER] = request_id
    return response


def register(app: Flask) -> None:
    """Assign before every other hook; echo on every response, errors included."""
    app.before_request_funcs.setdefault(None, []).insert(0, assign)
    app.after_request(echo)
