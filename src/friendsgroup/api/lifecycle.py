"""What every API write goes through: auth, body checks, idempotency, one commit."""

import json
import logging

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..db import SAFE_METHODS, get_session, has_session
from ..errors import (
    bad_request,
    conflict,
    internal_error,
    is_database_unavailable,
    problem_response,
    service_unavailable,
    unsupported_media_type,
)
from . import audit, idempotency
from .auth import authenticate, authorize

API_PREFIX = "/api/v1/"

log = logging.getLogger(__name__)


def _is_api_write() -> bool:
    """A write to an existing API route (unknown routes get their 404/405 first)."""
    return (
        request.method not in SAFE_METHODS
        and request.path.startswith(API_PREFIX)
        and request.routing_exception is None
    )


def check_json_body() -> None:
    """415 unless the body is JSON; 400 unless it parses to a JSON object."""
    if request.mimetype != "application/json":
        raise unsupported_media_type("send the body as application/json")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError) as error:
        raise bad_request("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")


def before_write():
    """Authenticate, check the body and claim the idempotency key, in that order."""
    if not _is_api_write():
        return None
    caller = authenticate()
    authorize(caller)
    check_json_body()
    audit.watch()
    key = request.headers.get("Idempotency-Key")
    if key is not None and request.method == "POST":
        return idempotency.claim(caller.token_id, key)
    return None


def finish_write(response: Response) -> Response:
    """Commit the request's work with its idempotency record, or roll it all back."""
    if request.method in SAFE_METHODS:
        return response
    if has_session():
        if response.status_code < 400:
            response = _commit(response)
        else:
            get_session().rollback()
    if idempotency.has_claim():
        idempotency.remember(response)
    if response.status_code >= 400 and _is_api_write():
        audit.record_refusal(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _commit(response: Response) -> Response:
    """Commit the work and the response to replay; a failure of the commit answers instead."""
    session = get_session()
    try:
        if idempotency.has_claim():
            idempotency.store(session, response)
        audit.add_entry(session, response)
        session.commit()
    except IntegrityError:
        session.rollback()
        return problem_response(
            conflict("conflict", "Conflict", "a concurrent change conflicts with this one")
        )
    except DBAPIError as error:
        session.rollback()
        if is_database_unavailable(error):
            return service_unavailable()
        log.error("commit failed: %s", type(error).__name__)
        return problem_response(internal_error())
    idempotency.settle()
    return response


def register(app: Flask) -> None:
    """Install the hooks."""
    app.before_request(before_write)
    app.after_request(finish_write)
