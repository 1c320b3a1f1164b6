"""The audit trail: who made which write, from which request, how it ended, which rows it named.

An entry is added to the session of the write it records, so it commits (or rolls back) with
it; a refused write's entry is written by the caller in a short transaction of its own. The
rows a write names are gathered from the session's flushes once ``watch`` was called, and, for
the importer and the seeder, from the events a bulk write recorded past a watermark.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, event, func, insert, inspect, select
from sqlalchemy.orm import Session

from .models import AuditEntry, Event
from .timeutil import utcnow

CHANGES = "friendsgroup.audit.changes"
# The tables whose new rows an entry names (sources and provisions belong to their parent).
NAMED_TABLES = frozenset(
    {"events", "announcements", "participants", "groups", "instruments", "api_tokens"}
)
# A column whose first setting ends a row's life (the row stays): how the entry calls that.
ENDINGS = {"retracted_at": "retracted", "revoked_at": "revoked"}
OUTCOMES = ("success", "refused")
# Built once: every write adds an entry.
AUDIT_INSERT = insert(AuditEntry)


@dataclass
class Changes:
    """The rows a write named so far: verb → table → ids."""

    named: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    # For bulk writes: events recorded by ``bulk_by`` with an id above ``watermark``.
    bulk_by: str | None = None
    watermark: int = 0

    def note(self, verb: str, table: str, ids) -> None:
        """Name ``ids`` of ``table`` under ``verb`` (created, retracted, revoked, rotated...)."""
        self.named.setdefault(verb, {}).setdefault(table, set()).update(ids)

    def rows(self, session: Session) -> dict[str, dict[str, list[list[int]]]]:
        """``{verb: {table: [[first_id, last_id], ...]}}``, ranges of consecutive ids."""
        result = {
            verb: {table: ranges(ids) for table, ids in sorted(tables.items()) if ids}
            for verb, tables in self.named.items()
        }
        if self.bulk_by is not None:
            bulk = bulk_event_ranges(session, self.watermark, self.bulk_by)
            if bulk:
                created = result.setdefault("created", {})
                created["events"] = merge_ranges(created.get("events", []) + bulk)
        return {verb: tables for verb, tables in result.items() if tables}


def ranges(ids) -> list[list[int]]:
    """Sorted ids as ``[first, last]`` runs of consecutive ids."""
    return merge_ranges([[i, i] for i in ids])


def merge_ranges(runs: list[list[int]]) -> list[list[int]]:
    """Runs sorted and joined where they touch or overlap."""
    merged: list[list[int]] = []
    for first, last in sorted(runs):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return merged


def watch(session: Session, bulk_by: str | None = None) -> Changes:
    """Start gathering the rows this session's write names; ``bulk_by`` for bulk writers."""
    changes = Changes(bulk_by=bulk_by)
    if bulk_by is not None:
        changes.watermark = session.scalar(select(func.max(Event.id))) or 0
    session.info[CHANGES] = changes
    return changes


def watching(session: Session) -> Changes | None:
    """The changes gathered for this session, if ``watch`` was called."""
    return session.info.get(CHANGES)


def bulk_event_ranges(session: Session, watermark: int, recorded_by: str) -> list[list[int]]:
    """Runs of the ids of events ``recorded_by`` wrote above ``watermark``."""
    mine = (Event.id > watermark, Event.recorded_by == recorded_by)
    count, first, last = session.execute(
        select(func.count(), func.min(Event.id), func.max(Event.id)).where(*mine)
    ).one()
    if not count:
        return []
    if count == last - first + 1:
        return [[first, last]]
    # Gaps (ids another writer took meanwhile): islands of consecutive ids, in one statement.
    numbered = select(
        Event.id.label("id"), (Event.id - func.row_number().over(order_by=Event.id)).label("run")
    ).where(*mine)
    runs = numbered.subquery()
    statement = (
        select(func.min(runs.c.id), func.max(runs.c.id))
        .group_by(runs.c.run)
        .order_by(func.min(runs.c.id))
    )
    return [[a, b] for a, b in session.execute(statement)]


@event.listens_for(Session, "after_flush")
def _gather(session: Session, _context) -> None:
    """Note the named rows a flush inserted or ended (only in a watched session)."""
    changes = session.info.get(CHANGES)
    if changes is None:
        return
    for row in session.new:
        table = getattr(row, "__tablename__", None)
        if table in NAMED_TABLES:
            changes.note("created", table, [row.id])
    for row in session.dirty:
        state = inspect(row)
        for column, verb in ENDINGS.items():
            if column in state.attrs and any(
                v is not None for v in state.attrs[column].history.added
            ):
                changes.note(verb, row.__tablename__, [row.id])


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context, _instances) -> None:
    """Refuse to change or delete an audit entry: the trail is only ever added to."""
    for row in (*session.dirty, *session.deleted):
        if isinstance(row, AuditEntry) and (row in session.deleted or session.is_modified(row)):
            raise ValueError("audit entries are never changed or deleted")


def _clip(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]


def record(
    session: Session,
    *,
    by: str | None,
    action: str,
    outcome: str = "success",
    status: int | None = None,
    problem: str | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    rows: dict | None = None,
) -> dict:
    """Write the entry of one write in its transaction (committed with it); the entry's values.

    The rows named are those the session gathered since ``watch`` and any given in ``rows``
    (``{verb: {table: [[first_id, last_id], ...]}}``, for writes the session did not see,
    such as a restore).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    # The write's last changes reach the database (and the gathering) before they are named.
    session.flush()
    changes = session.info.pop(CHANGES, None)
    named = changes.rows(session) if changes is not None else {}
    for verb, tables in (rows or {}).items():
        for table, runs in tables.items():
            target = named.setdefault(verb, {})
            target[table] = merge_ranges(target.get(table, []) + [list(r) for r in runs])
    entry = {
        "at": utcnow(),
        "by": _clip(by, 100),
        "action": _clip(action, 2000),
        "outcome": outcome,
        "status": status,
        "problem": _clip(problem, 100),
        "request_id": _clip(request_id, 128),
        "idempotency_key": _clip(idempotency_key, 255),
        "rows": named or None,
    }
    # One INSERT: the entry is never read back or changed, so it needs no ORM object.
    session.connection().execute(AUDIT_INSERT, entry)
    return entry


def entries(
    by: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
) -> Select:
    """The entries matching the filters (unordered: the caller pages them by id)."""
    statement = select(AuditEntry)
    if by is not None:
        statement = statement.where(AuditEntry.by == by)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    if outcome is not None:
        statement = statement.where(AuditEntry.outcome == outcome)
    return statement
