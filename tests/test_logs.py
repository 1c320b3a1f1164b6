"""The real server's log: one line per request with its request id; JSON when asked; no secrets."""

import json
import logging

import pytest
import requests
from sqlalchemy import select

from friendsgroup.db import get_db
from friendsgroup.logs import JsonFormatter, RequestIdFilter, logconfig, redact_query
from friendsgroup.models import AuditEntry

from .support import API, FRIENDS, running_server

TIMEOUT = 30


def exercise(server, auth: dict, token: str) -> dict:
    """A write with a chosen request id, a read, and a token in the URL; their responses."""
    created = requests.post(
        f"{server.url}{API}/groups",
        json=FRIENDS,
        headers={**auth, "X-Request-Id": "trace-42"},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-Id"] == "trace-42"
    read = requests.get(f"{server.url}{API}/groups", timeout=TIMEOUT)
    leaked = requests.get(f"{server.url}{API}/groups?access_token={token}", timeout=TIMEOUT)
    assert leaked.status_code == 400
    return {"created": created, "read": read, "leaked": leaked}


def stopped_log(server) -> str:
    """The whole log, once the server has exited (gunicorn flushes its lines by then)."""
    server.process.terminate()
    server.process.wait(timeout=15)
    return server.log()


def test_json_log_lines_carry_the_request_id_status_and_duration(
    app, database_url, tmp_path, auth, token, monkeypatch
):
    monkeypatch.setenv("LOG_FORMAT", "json")
    with running_server(database_url, tmp_path, workers=1) as server:
        responses = exercise(server, auth, token)
        text = stopped_log(server)
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, text
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    [write] = [line for line in access if line["request_id"] == "trace-42"]
    assert (write["method"], write["path"], write["status"]) == ("POST", f"{API}/groups", 201)
    assert isinstance(write["duration_ms"], float)
    read_id = responses["read"].headers["X-Request-Id"]
    assert [line["status"] for line in access if line["request_id"] == read_id] == [200]
    [leak] = [line for line in access if line["status"] == 400]
    assert leak["query"] == "access_token=%5Bredacted%5D"
    assert leak["request_id"] == responses["leaked"].headers["X-Request-Id"]
    # No token, no secret, no body, anywhere in the log.
    assert token not in text
    assert FRIENDS["name"] not in text
    with get_db(app).transaction(write=False) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.request_id == "trace-42")).one()
    assert entry.by == "secretariat" and entry.status == 201


def test_text_log_lines_carry_the_request_id_too(app, database_url, tmp_path, auth, token):
    with running_server(database_url, tmp_path, workers=1) as server:
        exercise(server, auth, token)
        text = stopped_log(server)
    [line] = [line for line in text.splitlines() if "trace-42" in line]
    assert f'"POST {API}/groups" 201' in line
    assert token not in text


def test_an_app_log_line_inside_a_request_names_the_request(app):
    record = logging.LogRecord("friendsgroup", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    with app.test_request_context("/", headers={"X-Request-Id": "r-1"}):
        app.preprocess_request()
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert (line["request_id"], line["message"], line["level"]) == ("r-1", "boom x", "error")


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logconfig("xml")


def test_only_the_token_is_blanked_from_a_query():
    assert redact_query("a=1&access_token=s3cret&b=2") == "a=1&access_token=%5Bredacted%5D&b=2"
    assert redact_query("a=1") == "a=1"
