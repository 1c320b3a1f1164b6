"""The change log: one row per thing the registry learns, written in the transaction of the fact.

Each row also queues a delivery for every webhook that wants it (the outbox), in the same
transaction: a committed change is always delivered, a rolled back one never is.

On PostgreSQL a row carries its transaction's id (``txid``). Ids are taken before commit, so
transactions can commit out of id order; readers page by ``(txid, id)`` and only serve rows of
transactions older than every one still running on this database, so a position once passed
never gains a row. SQLite serialises writers (``BEGIN IMMEDIATE``): ``txid`` is 0 there
and id order is commit order.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Row,
    and_,
    bindparam,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.orm import Session

from .models import (
    Announcement,
    Change,
    Delivery,
    Event,
    Group,
    Instrument,
    Participant,
    Webhook,
)
from .timeutil import utcnow

Resource = Event | Announcement | Group | Instrument | Participant

KINDS = {
    Event: "event",
    Announcement: "announcement",
    Group: "group",
    Instrument: "instrument",
    Participant: "participant",
}


def is_postgres(session: Session) -> bool:
    """True when the session writes to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


PG_TXID = literal_column("pg_current_xact_id()::text::bigint", BigInteger)


def current_txid(session: Session) -> ColumnElement:
    """The writing transaction's id as a bigint (PostgreSQL), else 0."""
    return PG_TXID if is_postgres(session) else literal(0, BigInteger)


# The oldest transaction running at the statement's snapshot that may write here: those of
# backends connected to other databases of the cluster are left out (a long transaction there
# must not stall this log); a finished one may have been ours, so it counts. With none, the
# next id to be assigned.
SAFE_HORIZON = """COALESCE(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_activity AS a
        WHERE a.datname <> current_database() AND a.backend_xid IS NOT NULL
          AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"""


def safe_horizon() -> ColumnElement:
    """Below this id every transaction that may write changes here has ended (PostgreSQL)."""
    return literal_column(f"({SAFE_HORIZON})", BigInteger)


def _columns(resource: Resource) -> dict:
    """The change's filter columns for a resource: its group, instrument and participant."""
    if isinstance(resource, Event):
        return {
            "event_id": resource.id,
            "group_id": resource.group_id,
            "instrument_id": resource.instrument_id,
            "participant_id": resource.participant_id,
        }
    if isinstance(resource, Announcement):
        return {"announcement_id": resource.id, "group_id": resource.group_id}
    if isinstance(resource, Group):
        return {"group_id": resource.id}
    if isinstance(resource, Instrument):
        return {"instrument_id": resource.id, "group_id": resource.group_id}
    return {"participant_id": resource.id}


# Built once: every write asks. Only what choosing and queueing deliveries reads.
ACTIVE_WEBHOOKS = select(
    Webhook.id, Webhook.types, Webhook.groups, Webhook.instruments, Webhook.participants
).where(Webhook.disabled_at.is_(None))


# The columns of an event's change row, as the INSERT … SELECTs that log events name them.
EVENT_CHANGE_COLUMNS = [
    "txid",
    "type",
    "recorded_at",
    "recorded_by",
    "event_id",
    "group_id",
    "instrument_id",
    "participant_id",
]


# The change row's INSERT, built once per kind of database (their txid differs).
_CHANGE_INSERTS: dict[str, Insert] = {}


def _change_insert(session: Session) -> Insert:
    kind = session.get_bind().dialect.name
    statement = _CHANGE_INSERTS.get(kind)
    if statement is None:
        statement = insert(Change).values(txid=current_txid(session)).returning(Change.id)
        _CHANGE_INSERTS[kind] = statement
    return statement


def record_change(
    session: Session, verb: str, resource: Resource, recorded_by: str, at: datetime | None = None
) -> None:
    """Log that ``resource`` was ``verb`` (recorded, retracted, …) and queue its deliveries."""
    session.flush()  # the resource's id and foreign keys
    log_change(session, f"{KINDS[type(resource)]}.{verb}", _columns(resource), recorded_by, at)


def log_change(
    session: Session, kind: str, columns: dict, recorded_by: str, at: datetime | None = None
) -> None:
    """Log a change of ``kind`` to the rows ``columns`` name, and queue its deliveries."""
    # One INSERT … RETURNING: nothing reads the row back, so no ORM object and flush for it.
    change_id = (
        session.connection()
        .execute(
            _change_insert(session),
            {"type": kind, "recorded_at": at or utcnow(), "recorded_by": recorded_by, **columns},
        )
        .scalar_one()
    )
    _queue(session, change_id, kind, columns, active_webhooks(session))


# A change's group slug, instrument slug and participant code, which webhook filters name.
Names = tuple[str | None, str | None, str | None]


def _queue(
    session: Session,
    change_id: int,
    kind: str,
    columns: dict,
    hooks: list,
    names: Names | None = None,
) -> None:
    """Queue one change's deliveries to the webhooks that want it; the ``names`` its rows go
    by, when the caller has them, or else read for the filters some webhook sets."""
    if not hooks:
        return
    if names is not None:
        facts = [(change_id, kind, *names)]
    else:
        ids = (columns.get("group_id"), columns.get("instrument_id"), columns.get("participant_id"))
        facts = _facts(session, [(change_id, kind, *ids)], hooks)
    _enqueue(session, hooks, facts)


# The columns a new event is written with (the rest take their defaults).
NEW_EVENT_COLUMNS = (
    "type",
    "group_id",
    "instrument_id",
    "participant_id",
    "effective_on",
    "earliest_on",
    "provisions",
    "note",
    "recorded_at",
    "recorded_by",
)
EVENT_RECORDED = f"{KINDS[Event]}.recorded"
# Those of them its change row repeats.
LOGGED_COLUMNS = ("group_id", "instrument_id", "participant_id", "recorded_at", "recorded_by")


def _event_insert():
    """The new event's INSERT, its id returned."""
    table = Event.__table__
    values = {name: bindparam(name, type_=table.c[name].type) for name in NEW_EVENT_COLUMNS}
    return insert(table).values(values).returning(table.c.id)


def _logged_event_statement():
    """PostgreSQL: the event, its change row and the active webhooks in one round trip.

    Data-modifying CTEs: the change row is inserted from the event's ``RETURNING`` (its
    foreign key is checked at the end of the statement, when the event is there).
    """
    events, changes = Event.__table__, Change.__table__
    event = _event_insert().returning(*(events.c[name] for name in LOGGED_COLUMNS)).cte("new_event")
    logged = select(
        PG_TXID,
        literal(EVENT_RECORDED),
        event.c.recorded_at,
        event.c.recorded_by,
        event.c.id,
        event.c.group_id,
        event.c.instrument_id,
        event.c.participant_id,
    )
    change = (
        insert(changes)
        .from_select(EVENT_CHANGE_COLUMNS, logged)
        .returning(changes.c.id.label("change_id"), changes.c.event_id)
        .cte("new_change")
    )
    hooks = ACTIVE_WEBHOOKS.subquery("hooks")
    # One row per active webhook (the change's ids on each), or one with no webhook.
    return select(change, hooks).select_from(change.outerjoin(hooks, true()))


# Built once: every accession, withdrawal, commitment and report runs one of them.
EVENT_INSERT = _event_insert()
LOGGED_EVENT = _logged_event_statement()


def insert_logged_event(session: Session, columns: dict, names: Names) -> int:
    """Write a new event (``NEW_EVENT_COLUMNS``), log it as recorded and queue its
    deliveries, matched by the ``names`` of its group or instrument and participant; its id.
    One round trip on PostgreSQL, three on SQLite."""
    connection = session.connection()
    if is_postgres(session):
        rows = connection.execute(LOGGED_EVENT, columns).all()
        change_id, event_id = rows[0].change_id, rows[0].event_id
        hooks = [row for row in rows if row.id is not None]
    else:
        event_id = connection.execute(EVENT_INSERT, columns).scalar_one()
        logged = {name: columns[name] for name in LOGGED_COLUMNS}
        logged.update(type=EVENT_RECORDED, event_id=event_id)
        change_id = connection.execute(_change_insert(session), logged).scalar_one()
        hooks = active_webhooks(session)
    _queue(session, change_id, EVENT_RECORDED, columns, hooks, names)
    return event_id


def record_registered(session: Session, resources: Iterable[Resource], recorded_by: str) -> None:
    """Log each newly registered group, instrument or participant (the seeder's)."""
    session.flush()
    for resource in resources:
        record_change(session, "registered", resource, recorded_by)


def bulk_event_changes(session: Session, chosen: ColumnElement[bool], returning: bool) -> Insert:
    """The INSERT that logs the bulk-written events ``chosen`` picks as recorded, in id order.

    A bulk writer runs it once a batch, naming the batch's own ids, so that exactly its
    events are logged, each with its instant and recorder. ``returning``: each change's
    (id, type, group_id, instrument_id, participant_id), for ``queue_deliveries``.
    """
    chosen_rows = (
        select(
            current_txid(session),
            literal(f"{KINDS[Event]}.recorded"),
            Event.recorded_at,
            Event.recorded_by,
            Event.id,
            Event.group_id,
            Event.instrument_id,
            Event.participant_id,
        )
        .where(chosen)
        .order_by(Event.id)
    )
    # The table, not the entity: the ids come as parameters, not as rows for the ORM to insert.
    statement = insert(Change.__table__).from_select(
        EVENT_CHANGE_COLUMNS,
        chosen_rows,
    )
    if returning:
        statement = statement.returning(
            Change.id, Change.type, Change.group_id, Change.instrument_id, Change.participant_id
        )
    return statement


def queue_deliveries(session: Session, rows: list) -> None:
    """Queue the deliveries of changes written in bulk (rows ``bulk_event_changes`` returned)."""
    hooks = active_webhooks(session)
    if hooks and rows:
        _enqueue(session, hooks, _facts(session, rows, hooks))


def active_webhooks(session: Session) -> list[Row]:
    """The webhooks deliveries are queued for (not disabled): their ids and filters."""
    return session.connection().execute(ACTIVE_WEBHOOKS).all()


def _facts(
    session: Session, rows: list, hooks: list[Row]
) -> list[tuple[int, str, str | None, str | None, str | None]]:
    """(change id, type, group slug, instrument slug, participant code) for each change row."""
    # Names only for the filters some webhook sets: an unset filter passes every change.
    groups, instruments, participants = (
        _names(session, name, {row[position] for row in rows})
        if any(getattr(hook, name) is not None for hook in hooks)
        else {}
        for position, name in ((2, "groups"), (3, "instruments"), (4, "participants"))
    )
    return [
        (row[0], row[1], groups.get(row[2]), instruments.get(row[3]), participants.get(row[4]))
        for row in rows
    ]


def _name_statement(key, name):
    return select(key, name).where(key.in_(bindparam("ids", expanding=True)))


# Built once: the names webhook filters are matched against, by id.
_NAMES = {
    "groups": _name_statement(Group.id, Group.slug),
    "instruments": _name_statement(Instrument.id, Instrument.slug),
    "participants": _name_statement(Participant.id, Participant.code),
}


def _names(session: Session, kind: str, ids: set) -> dict:
    ids.discard(None)
    if not ids:
        return {}
    return dict(session.connection().execute(_NAMES[kind], {"ids": list(ids)}).all())


def wants(
    hook: Row, type_: str, group: str | None, instrument: str | None, participant: str | None
) -> bool:
    """True when the change passes every filter the webhook set (an unset filter passes all)."""
    return (
        (hook.types is None or type_ in hook.types)
        and (hook.groups is None or group in hook.groups)
        and (hook.instruments is None or instrument in hook.instruments)
        and (hook.participants is None or participant in hook.participants)
    )


def _enqueue(session: Session, hooks: list[Row], facts: list) -> None:
    """One pending delivery per (change, webhook that wants it)."""
    now = utcnow()
    rows = [
        {
            "webhook_id": hook.id,
            "change_id": fact[0],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for fact in facts
        for hook in hooks
        if wants(hook, *fact[1:])
    ]
    for at in range(0, len(rows), 5_000):
        session.execute(insert(Delivery), rows[at : at + 5_000])


def position_filter(session: Session, after: tuple[int, int] | None) -> list[ColumnElement]:
    """Conditions serving the changes past ``after`` that can no longer be overtaken."""
    conditions = []
    if after is not None:
        conditions.append(
            (Change.txid > after[0]) | and_(Change.txid == after[0], Change.id > after[1])
        )
    if is_postgres(session):
        conditions.append(Change.txid < safe_horizon())
    return conditions
