"""``friendsgroup event`` and ``participant``: a curator's verbs, over the API's functions."""

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import click
from sqlalchemy import select

from ..db import get_db
from ..errors import Problem
from ..history import correct_event, retract_event
from ..models import Event, timeline_order
from ..participants import find_participant
from ..reports.standing import participant_standing
from ..schemas import EventSchema, ParticipantDetailSchema
from ..tabular import table
from . import DATE, app, fail, main, require_head

FORMAT = click.Choice(["table", "json"])
BY = click.option(
    "--by",
    default=getpass.getuser,
    show_default="your login name",
    help="Who makes the change (recorded with it).",
)


@contextmanager
def refused() -> Iterator[None]:
    """A refusal of the rules as a one-line reason, as the API's problem would give it."""
    try:
        yield
    except Problem as problem:
        fields = "; ".join(f"{name}: {' '.join(m)}" for name, m in (problem.errors or {}).items())
        fail(f"{problem.title}: {fields or problem.detail}; nothing was written")


def _event(session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        fail(f"no event {event_id}")
    return event


def _print_event(body: dict, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for name, value in body.items():
        if name == "sources":
            value = "; ".join(f"{s['url']} ({s['reliability']})" for s in value) or None
        elif name == "participant":
            value = f"{value['code']} ({value['name']})"
        click.echo(f"{name + ':':<19}{'' if value is None else value}")


@main.group()
def event() -> None:
    """Show, retract and correct one event (append-only: history keeps the old state)."""


@event.command("show")
@click.argument("event_id", type=int)
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
def event_show(event_id: int, fmt: str) -> None:
    """One event, with its sources, retraction and supersession marks."""
    require_head()
    with get_db(app()).transaction(write=False) as session:
        body = EventSchema().dump(_event(session, event_id))
    _print_event(body, fmt)


@event.command("retract")
@click.argument("event_id", type=int)
@click.option("--reason", required=True, help="Why the event leaves the record.")
@BY
def event_retract(event_id: int, reason: str, by: str) -> None:
    """Withdraw an event from the record (it stays, marked retracted)."""
    require_head()
    with refused(), get_db(app()).transaction() as session:
        retracted = retract_event(session, _event(session, event_id), reason, retracted_by=by)
        body = EventSchema().dump(retracted)
    click.echo(f"event {event_id} retracted by {by}")
    _print_event(body, "table")


@event.command("correct")
@click.argument("event_id", type=int)
@click.option("--effective-on", type=DATE, help="The corrected date.")
@click.option("--earliest-on", help="The window's start (YYYY-MM-DD), or 'none' to clear it.")
@click.option("--note", help="The new note; '' clears it.")
@click.option("--reason", required=True, help="Why the event is corrected.")
@BY
def event_correct(event_id: int, effective_on, earliest_on, note, reason: str, by: str) -> None:
    """Retract an event and record its replacement; omitted fields are copied."""
    require_head()
    changes: dict = {"reason": reason}
    if effective_on is not None:
        changes["effective_on"] = effective_on.date()
    if earliest_on is not None:
        changes["earliest_on"] = _optional_day(earliest_on)
    if note is not None:
        changes["note"] = note or None
    with refused(), get_db(app()).transaction() as session:
        replacement = correct_event(session, _event(session, event_id), changes, by)
        body = EventSchema().dump(replacement)
    click.echo(f"event {event_id} corrected by {by}: the replacement is event {body['id']}")
    _print_event(body, "table")


def _optional_day(text: str) -> date | None:
    if text.lower() in ("none", "null", ""):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = "not a YYYY-MM-DD date or 'none'"
        raise click.BadParameter(message, param_hint="--earliest-on") from None


@main.group()
def participant() -> None:
    """A participant's record."""


@participant.command("history")
@click.argument("code")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
def participant_history(code: str, fmt: str) -> None:
    """Every period and every event of CODE, retracted and corrected ones included."""
    require_head()
    with get_db(app()).transaction(write=False) as session:
        found = find_participant(session, code)
        if found is None:
            fail(f"no participant {code!r}")
        standing = participant_standing(session, found, None, None)
        standing = ParticipantDetailSchema().dump({**standing, "aliases": found.aliases})
        events = session.scalars(
            select(Event).where(Event.participant_id == found.id).order_by(*timeline_order())
        )
        standing["events"] = EventSchema(many=True).dump(events)
    if fmt == "json":
        click.echo(json.dumps(standing, indent=2, ensure_ascii=False))
        return
    print_history(standing)


PERIOD_COLUMNS = ["in", "since", "until", "since_uncertain"]
EVENT_COLUMNS = ["id", "type", "in", "effective_on", "earliest_on", "recorded", "status"]


def print_history(standing: dict) -> None:
    """The periods, then the events with their sources and what became of them."""
    click.echo(f"{standing['code']} {standing['name']} ({standing['kind']})\n")
    periods = [
        [
            block.get("group") or block.get("instrument"),
            p["since"],
            p["until"],
            p["since_uncertain"],
        ]
        for block in [*standing["memberships"], *standing["commitments"]]
        for p in block["periods"]
    ]
    click.echo(table(PERIOD_COLUMNS, periods) if periods else "No periods.")
    click.echo("")
    rows = [
        [
            e["id"],
            e["type"],
            e["group"] or e["instrument"],
            e["effective_on"],
            e["earliest_on"],
            f"{e['recorded_at']} by {e['recorded_by']}",
            _status(e),
        ]
        for e in standing["events"]
    ]
    click.echo(table(EVENT_COLUMNS, rows) if rows else "No events.")
    for e in standing["events"]:
        for source in e["sources"]:
            click.echo(f"  event {e['id']} source: {source['url']} ({source['reliability']})")
        if e["note"]:
            click.echo(f"  event {e['id']} note: {e['note']}")


def _status(e: dict) -> str:
    if e["retracted_at"] is None:
        status = "current"
    elif e["superseded_by"] is not None:
        status = f"corrected by {e['superseded_by']} ({e['retraction_reason']})"
    else:
        status = f"retracted ({e['retraction_reason']})"
    if e["retracted_by"]:
        status += f" by {e['retracted_by']}"
    if e["supersedes"] is not None:
        status += f"; corrects {e['supersedes']}"
    return status
