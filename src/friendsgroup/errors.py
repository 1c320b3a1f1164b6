"""RFC 9457 problem details: the one error format of the service, built in one place."""

import json
import logging

from flask import Flask, Response, current_app
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the client should see, with a problem ``type`` that names the rule."""

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.type = type_
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def bad_request(
    detail: str,
    *,
    type_: str = "bad-request",
    title: str = "Bad request",
    field: str | None = None,
) -> Problem:
    """A 400 for a request that cannot be taken as sent, optionally naming what is at fault."""
    errors = {field: [detail]} if field else None
    return Problem(400, type_, title, detail, errors=errors)


def unauthorized(detail: str) -> Problem:
    """A 401 with the challenge clients need."""
    return Problem(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="friendsgroup"'},
    )


def forbidden(type_: str, title: str, detail: str, headers: dict | None = None) -> Problem:
    """A 403: the caller is known, but may not do this."""
    return Problem(403, type_, title, detail, headers=headers)


def not_found(what: str, key: str) -> Problem:
    """A 404 for an unknown resource."""
    return Problem(404, "not-found", "Not found", f"no {what} {key!r}")


def conflict(type_: str, title: str, detail: str, field: str | None = None) -> Problem:
    """A 409 for a rule of the domain, optionally naming the field at fault."""
    errors = {field: [detail]} if field else None
    return Problem(409, type_, title, detail, errors=errors)


def payload_too_large(detail: str) -> Problem:
    """A 413 for a body over the limit."""
    return Problem(413, "payload-too-large", "Payload too large", detail)


def unsupported_media_type(detail: str) -> Problem:
    """A 415 for a body in a media type the service does not read."""
    return Problem(415, "unsupported-media-type", "Unsupported media type", detail)


def validation_problem(
    field: str,
    message: str,
    detail: str | None = None,
    *,
    type_: str = "validation-error",
    title: str = "Invalid input",
) -> Problem:
    """A 422 naming one field (``type_`` names a more specific rule, if any)."""
    return Problem(422, type_, title, detail or f"{field}: {message}", errors={field: [message]})


def internal_error() -> Problem:
    """A 500 that shows nothing of the failure (the log names it)."""
    return Problem(500, "internal-error", "Internal error")


def unavailable(
    detail: str = "the database is unavailable; retry later",
    type_: str = "service-unavailable",
    title: str = "Service unavailable",
    retry_after: int | None = None,
) -> Problem:
    """A 503 that says when to retry and shows no internals."""
    if retry_after is None:
        retry_after = current_app.config.get("RETRY_AFTER_SECONDS", 5)
    return Problem(503, type_, title, detail, headers={"Retry-After": str(retry_after)})


def problem_response(problem: Problem) -> Response:
    """The problem+json response of a Problem: the one place a problem body is written."""
    body = {"type": f"/problems/{problem.type}", "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"sources.0.url": [...]}``."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": messages}
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = "body" if key == "_schema" else str(key)
            flat.update(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
        return flat
    return {prefix or "body": [str(messages)]}


HTTP_PROBLEM_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    431: "header-fields-too-large",
    500: "internal-error",
    503: "service-unavailable",
}


def http_exception_response(error: HTTPException) -> Response:
    """Problem+json for a werkzeug or webargs HTTP error."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = None
    if "messages" in data:
        # webargs: {"json": {...}} or {"query": {...}}: the location adds nothing for clients
        errors = {}
        for location_messages in data["messages"].values():
            errors.update(flatten_errors(location_messages))
    detail = data.get("message") or (error.description if status != 422 else None)
    if status == 422 and errors and not detail:
        detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    headers = dict(data.get("headers") or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="friendsgroup"')
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    title = HTTP_PROBLEM_TITLES.get(status, error.name)
    type_ = HTTP_PROBLEM_TYPES.get(status, "error")
    return problem_response(Problem(status, type_, title, detail, errors, headers))


HTTP_PROBLEM_TITLES = {422: "Invalid input"}


def service_unavailable() -> Response:
    """503 when the database cannot be reached."""
    return problem_response(unavailable())


def is_database_unavailable(error: BaseException) -> bool:
    """True for errors that mean the database is down or unreachable, not a bad request."""
    if isinstance(error, OperationalError | PoolTimeout):  # down, or every connection taken
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _innermost_frame(error: BaseException) -> str:
    """``file:line`` of the innermost frame of an exception's traceback."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"


def register(app: Flask) -> None:
    """Install the problem+json handlers for every error the app can raise (the only ones:
    the API's flask-smorest is told not to install its own)."""

    @app.errorhandler(Problem)
    def handle_problem(problem: Problem):
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        return http_exception_response(error)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_exception_response(error)
        if is_database_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return service_unavailable()
        # Name the failure and where it happened, never its message: messages carry SQL and data.
        log.error("unhandled %s at %s", type(error).__name__, _innermost_frame(error))
        return problem_response(internal_error())
