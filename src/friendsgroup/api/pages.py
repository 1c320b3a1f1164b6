"""Keyset pages of a list: opaque cursors, ``Link`` headers, items as JSON or CSV."""

import base64
import binascii
import json
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from ..errors import validation_problem
from ..models import Event, timeline_order
from ..participants import find_participant
from ..reports.tables import event_table
from ..reports.visibility import events_known
from ..schemas import EventSchema
from ..tabular import columns_of
from ..timeutil import utcnow
from .responses import json_response, tabular_format, tabular_response


def encode_cursor(values: list) -> str:
    """An opaque cursor for the last key of a page."""
    plain = [v.isoformat() if isinstance(v, date) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: list[type]) -> list:
    """The key values of a cursor, checked against the key types; 422 when forged."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return [_typed(value, kind) for value, kind in zip(values, types, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise validation_problem("cursor", "is not a cursor this service issued") from error


def _typed(value, kind: type):
    if kind is date:
        return date.fromisoformat(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 2**63:
            raise ValueError("out of range")
        return value
    if kind is str and isinstance(value, str):
        # Keys never hold NUL or lone surrogates; the database would refuse them (500, not 422)
        if "\x00" in value:
            raise ValueError("NUL character")
        value.encode("utf-8")
        return value
    raise ValueError("wrong type")


def paginate(
    session: Session,
    statement: Select,
    keys: list,
    types: list[type],
    limit: int,
    cursor: str | None,
    key_values: Callable[[Any], list] | None = None,
) -> tuple[list, str | None]:
    """One page of ``statement`` ordered by ``keys``, and the cursor of the next page.

    ``key_values`` gives a row's values of the keys, where a key is an expression rather than
    a column of the row (each column's own attribute otherwise)."""
    if cursor:
        statement = statement.where(tuple_(*keys) > tuple_(*decode_cursor(cursor, types)))
    rows = list(session.scalars(statement.order_by(*keys).limit(limit + 1)).unique())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    values = key_values(last) if key_values else [getattr(last, key.key) for key in keys]
    return rows[:limit], encode_cursor(values)


def next_link(next_cursor: str | None) -> dict[str, str]:
    """The ``Link`` header pointing at the next page, if there is one."""
    if next_cursor is None:
        return {}
    args = request.args.to_dict()
    args["cursor"] = next_cursor
    # From the configured public base, never the client's Host header; else a path (RFC 8288
    # resolves it against the request's URL).
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    return {"Link": f'<{base.rstrip("/")}{request.path}?{urlencode(args)}>; rel="next"'}


EVENT_CSV_COLUMNS = columns_of(EventSchema)


def page_response(items: list[dict], next_cursor: str | None, columns: list[str], fmt, table=None):
    """``{"items", "next_cursor"}`` with a ``Link`` header, or the items as CSV or XLSX rows.

    ``table`` (items → header and rows) replaces the plain ``columns`` of each item.
    """
    headers = next_link(next_cursor)
    kind = tabular_format(fmt)
    if kind:
        if table is not None:
            header, rows = table(items)
        else:
            header = columns
            rows = [[_cell(item.get(column)) for column in columns] for item in items]
        return tabular_response(header, rows, kind, headers)
    return json_response({"items": items, "next_cursor": next_cursor}, headers=headers)


def _cell(value):
    """Flatten nested values into one CSV cell."""
    if isinstance(value, dict):
        for key in ("code", "number", "url"):
            if key in value:
                return value[key]
        return ""
    if isinstance(value, list):
        return " ".join(str(_cell(v)) for v in value)
    return value


def event_page(session: Session, args: dict, *conditions):
    """A page of events matching ``conditions`` and the list filters the OpenAPI document names."""
    known_at = args.get("known_at") or utcnow()
    statement = events_known(
        known_at, *conditions, include_retracted=bool(args.get("include_retracted"))
    )
    if "participant" in args:
        participant = find_participant(session, args["participant"])
        if participant is None:
            return page_response([], None, EVENT_CSV_COLUMNS, args["format"], event_table)
        statement = statement.where(Event.participant_id == participant.id)
    if "type" in args:
        statement = statement.where(Event.type == args["type"])
    if "recorded_since" in args:
        statement = statement.where(Event.recorded_at >= args["recorded_since"])
    if "recorded_until" in args:
        statement = statement.where(Event.recorded_at < args["recorded_until"])
    # Same-day events in their places, as the rules read them (a correction keeps its).
    items, next_cursor = paginate(
        session,
        statement,
        list(timeline_order()),
        [date, int, int],
        args["limit"],
        args["cursor"],
        lambda event: [event.effective_on, event.day_place, event.id],
    )
    events = EventSchema(many=True).dump(items)
    return page_response(events, next_cursor, EVENT_CSV_COLUMNS, args["format"], event_table)
