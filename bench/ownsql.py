"""P3q's view: an accession by the service's own statements, through psycopg, nothing else.

The statements are the service's (``tokens``, ``participants``, ``history``, ``changes``,
``audit``), compiled for PostgreSQL as the service compiles them, and run in the order and
transaction an accession runs them: the token, the participant locked, its timeline, the
event with its change row and the webhooks, the audit entry, COMMIT (the group is looked up
once per process, as the service's group cache does). What is left out is every layer above
the SQL: SQLAlchemy's execution, the ORM session, flask-smorest and marshmallow, the rules'
Python, idempotency and the access log. P3 against it is what those layers cost; it against
P3f is what the design's SQL costs. No webhook is registered while P3 runs, so the event's
statement returns none and no delivery is queued, as in the service.
"""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import psycopg
from flask import Flask, request
from sqlalchemy.dialects import postgresql

from friendsgroup.audit import AUDIT_INSERT
from friendsgroup.changes import LOGGED_EVENT
from friendsgroup.history import STEPS
from friendsgroup.participants import PARTICIPANT_REF_LOCKED
from friendsgroup.tokens import TOKEN_BY_HASH, hash_token

PREFIX = "/ownsql"
PATH = f"{PREFIX}/groups/<slug>/accessions"
DIALECT = postgresql.psycopg.dialect()


class Compiled:
    """One of the service's statements as psycopg runs it: its SQL and its full parameters."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self.by_columns: dict[tuple[str, ...], tuple] = {}

    def run(self, connection: psycopg.Connection, values: dict) -> psycopg.Cursor:
        """Execute with ``values`` (JSON values already as text), the statement's own
        literals and defaults filled in as SQLAlchemy fills them."""
        # Compiled once per set of parameter names, as SQLAlchemy's cache does: an INSERT
        # without values takes its columns from them.
        columns = tuple(values)
        if columns not in self.by_columns:
            compiled = self.statement.compile(dialect=DIALECT, column_keys=list(columns))
            self.by_columns[columns] = (str(compiled), compiled)
        sql, compiled = self.by_columns[columns]
        return connection.execute(sql, compiled.construct_params(values))


TOKEN = Compiled(TOKEN_BY_HASH)
PARTICIPANT = Compiled(PARTICIPANT_REF_LOCKED)
TIMELINE = Compiled(STEPS[True])
EVENT = Compiled(LOGGED_EVENT)
AUDIT = Compiled(AUDIT_INSERT)


def register(app: Flask, connection: Callable[[], psycopg.Connection]) -> None:
    """Add the view to the floor's app; ``connection`` gives the thread's kept one."""
    groups: dict[str, int] = {}

    @app.post(PATH)
    def ownsql_accession(slug: str):
        body = request.get_json()
        db = connection()
        secret = request.headers["Authorization"].partition(" ")[2]
        token = TOKEN.run(db, {"digest": hash_token(secret)}).fetchone()
        if slug not in groups:
            found = db.execute("SELECT id FROM groups WHERE slug = %s", (slug,)).fetchone()
            groups[slug] = found[0]
        group_id = groups[slug]
        participant = PARTICIPANT.run(db, {"code": body["participant"]}).fetchone()
        TIMELINE.run(db, {"target_id": group_id, "participant_id": participant[0]}).fetchall()
        now = datetime.now(UTC).replace(tzinfo=None)
        columns = {
            "type": "accession",
            "group_id": group_id,
            "instrument_id": None,
            "participant_id": participant[0],
            "effective_on": date.fromisoformat(body["effective_on"]),
            "earliest_on": None,
            "provisions": None,
            "note": None,
            "recorded_at": now,
            "recorded_by": token[1],
        }
        rows = EVENT.run(db, columns).fetchall()
        event_id = rows[0][1]
        entry = {
            "at": now,
            "by": token[1],
            "action": f"POST {request.path}",
            "outcome": "success",
            "status": 201,
            "problem": None,
            "request_id": uuid.uuid4().hex,
            "idempotency_key": None,
            "rows": json.dumps({"created": {"events": [[event_id, event_id]]}}),
        }
        AUDIT.run(db, entry)
        db.commit()
        return {
            "id": event_id,
            "type": "accession",
            "group": slug,
            "participant": {"code": participant[1], "name": participant[2]},
            "effective_on": body["effective_on"],
            "recorded_by": token[1],
        }, 201
