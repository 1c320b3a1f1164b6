"""The audit trail over HTTP: each API write's entry, and ``GET /audit`` to read them."""

import json
import logging

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import audit, requestids
from ..db import get_db, get_session
from ..errors import PROBLEM_JSON
from ..models import AuditEntry
from ..schemas import BaseSchema, PageArgsSchema, Text, Timestamp
from .auth import authenticate, current_caller, require_scope
from .pages import page_response, paginate
from .responses import wants_csv

log = logging.getLogger(__name__)

blp = Blueprint("audit", __name__, description="The audit trail: who wrote what, and how it ended")


# --- the entry of each API write ------------------------------------------------------------


def watch() -> None:
    """Gather the rows the request's write names (called once the write is let in)."""
    audit.watch(get_session())


def name_created(table: str, row_id: int) -> None:
    """Name a row the write created by a Core statement, which no flush reports."""
    changes = audit.watching(get_session())
    if changes is not None:
        changes.note("created", table, [row_id])


def _problem_type(response: Response) -> str | None:
    if response.mimetype != PROBLEM_JSON:
        return None
    try:
        kind = json.loads(response.get_data()).get("type") or ""
    except (ValueError, AttributeError):
        return None
    return kind.rsplit("/", 1)[-1] or None


def _record(session: Session, response: Response) -> None:
    caller = current_caller()
    refused = response.status_code >= 400
    audit.record(
        session,
        by=caller.name if caller else None,
        action=f"{request.method} {request.path}",
        outcome="refused" if refused else "success",
        status=response.status_code,
        problem=_problem_type(response) if refused else None,
        request_id=requestids.current(),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )


def add_entry(session: Session, response: Response) -> None:
    """Add the entry of a successful write to its own transaction, just before the commit."""
    _record(session, response)


def record_refusal(response: Response) -> None:
    """Write the entry of a refused write in a short transaction (the write's was rolled back).

    Status and problem type only, never the body. A database that cannot take the entry (the
    503 case) is logged, not raised: the refusal still reaches the client.
    """
    try:
        with get_db().transaction() as session:
            _record(session, response)
    except SQLAlchemyError as error:
        log.warning("the refusal was not audited: %s", type(error).__name__)


# --- GET /audit -----------------------------------------------------------------------------


class AuditEntrySchema(BaseSchema):
    """One audited write."""

    id = fields.Integer()
    at = Timestamp()
    by = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    action = fields.String()
    idempotency_key = fields.String(allow_none=True)
    outcome = fields.String()
    status = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    rows = fields.Dict(
        allow_none=True,
        metadata={
            "description": "verb (created, retracted, revoked, rotated) → table → "
            "[[first_id, last_id], ...]"
        },
    )


class AuditPageSchema(BaseSchema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


class AuditArgsSchema(PageArgsSchema):
    """Filters of the audit trail."""

    by = Text(max_length=100)
    since = Timestamp()
    until = Timestamp()
    outcome = fields.String(validate=validate.OneOf(audit.OUTCOMES))


AUDIT_COLUMNS = list(AuditEntrySchema().fields)


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditArgsSchema(), location="query")
    @blp.response(200, AuditPageSchema)
    @blp.alt_response(401, description="No valid token")
    @blp.alt_response(403, description="The token lacks the scope audit:read")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, args):
        """Every write, oldest first: who, when, which request, how it ended, which rows."""
        require_scope(authenticate(), "audit:read")
        statement = audit.entries(
            args.get("by"), args.get("since"), args.get("until"), args.get("outcome")
        )
        items, next_cursor = paginate(
            get_session(), statement, [AuditEntry.id], [int], args["limit"], args["cursor"]
        )
        dumped = AuditEntrySchema(many=True).dump(items)
        if wants_csv(args["format"]):
            for item in dumped:
                item["rows"] = json.dumps(item["rows"]) if item["rows"] else ""
        return page_response(dumped, next_cursor, AUDIT_COLUMNS, args["format"])
