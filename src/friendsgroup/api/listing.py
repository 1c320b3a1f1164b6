"""Pages of items as JSON or CSV, and the event list every resource shares."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event
from ..pagination import next_link, paginate
from ..participants import find_participant
from ..reports import recorded_by, visible_at
from ..representation import csv_response, json_response, wants_csv
from ..schemas import EventSchema
from ..timeutil import utcnow

EVENT_COLUMNS = [
    "id",
    "type",
    "group",
    "instrument",
    "participant",
    "effective_on",
    "earliest_on",
    "provisions",
    "note",
    "sources",
    "recorded_at",
    "recorded_by",
    "retracted_at",
    "retraction_reason",
    "supersedes",
    "superseded_by",
]


def page_response(items: list[dict], next_cursor: str | None, columns: list[str], fmt):
    """``{"items", "next_cursor"}`` with a ``Link`` header, or the items as CSV rows."""
    headers = next_link(next_cursor)
    if wants_csv(fmt):
        rows = ([_cell(item.get(column)) for column in columns] for item in items)
        return csv_response(columns, rows, headers)
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
    """A page of events matching ``conditions`` and the list filters of SPEC §3."""
    known_at = args.get("known_at") or utcnow()
    statement = select(Event).where(*conditions)
    if args.get("include_retracted"):
        statement = statement.where(recorded_by(known_at))
    else:
        statement = statement.where(visible_at(known_at))
    if "participant" in args:
        participant = find_participant(session, args["participant"])
        if participant is None:
            return page_response([], None, EVENT_COLUMNS, args["format"])
        statement = statement.where(Event.participant_id == participant.id)
    if "type" in args:
        statement = statement.where(Event.type == args["type"])
    items, next_cursor = paginate(
        session,
        statement,
        [Event.effective_on, Event.id],
        [date, int],
        args["limit"],
        args["cursor"],
    )
    events = EventSchema(many=True).dump(items)
    return page_response(events, next_cursor, EVENT_COLUMNS, args["format"])
