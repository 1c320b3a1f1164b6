"""Safe retries: ``Idempotency-Key`` on POST replays the first response (kept 48 h a token)."""

import hashlib
import json
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import get_db
from ..errors import conflict, validation_problem
from ..models import IdempotencyKey
from ..timeutil import utcnow

KEEP_FOR = timedelta(hours=48)
# A claim this old was left by a process that died mid-request; a retry may take it over.
# Every wait of a request is bounded (db.Bounds) and the server stops a request after its
# ``timeout`` (server.py), so no live request holds a claim this long.
STALE_AFTER = timedelta(seconds=30)
REPLAYED_HEADERS = ("Location", "Content-Type")


def request_fingerprint() -> str:
    """What makes two requests "the same": method, path and the JSON body (key order aside)."""
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    text = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def claim(token_id: int, key: str) -> Response | None:
    """Claim the key for this request, or return the replay of the first response.

    The claim is committed on its own, before the work, so a concurrent retry sees it.
    """
    if len(key) > 255 or not key.strip() or not key.isprintable():
        raise validation_problem("Idempotency-Key", "must be 1-255 printable characters")
    fingerprint = request_fingerprint()
    with get_db().transaction() as session:
        session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEEP_FOR)
        )
        existing = _find(session, token_id, key)
        if existing is None:
            if _insert_claim(session, token_id, key, fingerprint):
                g.idempotency_claim = (token_id, key)
                return None
            existing = _find(session, token_id, key)
        return _answer_existing(session, existing, fingerprint, token_id, key)


def _find(session: Session, token_id: int, key: str) -> IdempotencyKey | None:
    return session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.token_id == token_id, IdempotencyKey.key == key)
    ).one_or_none()


def _insert_claim(session: Session, token_id: int, key: str, fingerprint: str) -> bool:
    """Insert the claim; False when another request inserted it first."""
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(token_id=token_id, key=key, request_hash=fingerprint))
        return True
    except IntegrityError:
        return False


def _answer_existing(
    session: Session, existing: IdempotencyKey, fingerprint: str, token_id: int, key: str
) -> Response | None:
    if existing.request_hash != fingerprint:
        raise validation_problem(
            "Idempotency-Key",
            "was used with a different request",
            "this Idempotency-Key was used with a different request",
            type_="idempotency-key-reused",
            title="Idempotency key reused",
        )
    if existing.status is None:
        if utcnow() - existing.created_at < STALE_AFTER:
            raise conflict(
                "request-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed",
            )
        existing.created_at = utcnow()
        g.idempotency_claim = (token_id, key)
        return None
    response = Response(existing.body, status=existing.status)
    for name, value in (existing.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def store(session: Session, response: Response) -> None:
    """Keep the response of the claimed request in ``session``; the caller commits it."""
    token_id, key = g.idempotency_claim
    record = _find(session, token_id, key)
    if record is None:
        return
    record.status = response.status_code
    record.body = response.get_data(as_text=True)
    record.headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}


def current_claim() -> tuple[int, str]:
    """The (token id, key) this request claimed."""
    return g.idempotency_claim


def release(claim: tuple[int, str] | None = None) -> None:
    """Forget a claim whose request failed on our side, so that a retry can run it."""
    token_id, key = claim or g.idempotency_claim
    with get_db().transaction() as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.token_id == token_id,
                IdempotencyKey.key == key,
                IdempotencyKey.status.is_(None),
            )
        )
    g.pop("idempotency_claim", None)


def settle() -> None:
    """The claim's response is committed: this request is done with it."""
    g.pop("idempotency_claim", None)


def remember(response: Response) -> None:
    """Keep an unsuccessful response for replay in a transaction of its own.

    A failure on our side (5xx) is not kept: the claim is released so a retry runs again.
    """
    if response.status_code >= 500:
        release()
        return
    with get_db().transaction() as session:
        store(session, response)
    settle()


def has_claim() -> bool:
    """True when this request holds an idempotency claim."""
    return "idempotency_claim" in g
