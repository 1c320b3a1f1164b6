"""What every API write goes through: auth, body checks, idempotency, one commit."""

import json
import logging
import time

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

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
from . import audit, framing, idempotency
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
    framing.bound_chunked_body()
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
    if request.method != "DELETE" or request.content_length:  # a DELETE needs no body
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
    try:
        if has_session():
            if response.status_code < 400:
                response = _commit(response)
            else:
                get_session().rollback()
        if idempotency.has_claim():
            idempotency.remember(response)
    except SQLAlchemyError as error:
        # The one place a dead connection at the end of a write becomes an answer (a rollback
        # on it raises DBAPIError or, once the connection is invalidated, PendingRollbackError).
        response = _unavailable(error)
    # A 503 is not audited: the database that would take the entry is the one that failed.
    if response.status_code >= 400 and response.status_code != 503 and _is_api_write():
        audit.record_refusal(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(error: SQLAlchemyError) -> Response:
    """503 for a commit or rollback the database could not take; the key is free for a retry."""
    log.warning("database unavailable at the end of a write: %s", type(error).__name__)
    if idempotency.has_claim():
        _release_claim()
    return service_unavailable()


# A database restarting comes back within a second or two: the release is retried this long.
RELEASE_WITHIN = 2.0


def _release_claim() -> None:
    """Free the request's Idempotency-Key, so that the client's retry runs at once."""
    claim = idempotency.current_claim()
    deadline = time.monotonic() + RELEASE_WITHIN
    while True:
        try:
            idempotency.release(claim)
            return
        except SQLAlchemyError:
            if time.monotonic() >= deadline:
                # Still down: the claim goes stale after STALE_AFTER; a retry takes it over.
                log.warning("idempotency claim kept: the database is still unavailable")
                return
            time.sleep(0.25)


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
        if is_database_unavailable(error):
            raise  # finish_write answers 503 (the rollback on a dead connection would fail)
        session.rollback()
        log.error("commit failed: %s", type(error).__name__)
        return problem_response(internal_error())
    idempotency.settle()
    return response


def register(app: Flask) -> None:
    """Install the hooks."""
    app.before_request(before_write)
    app.after_request(finish_write)
