"""The HAIP reference data of ``seeds/``, through the API's schemas and the same gate.

Groups, instruments and participants are loaded with the API's schemas and registered by
``registration``; events go through the importer's reader and ``bulk.record_events_bulk``,
announcements through ``history.record_announcement``. What is already in the registry is
skipped, so running it twice changes nothing; any failure writes nothing.
"""

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..changes import record_registered
from ..errors import Problem, flatten_errors
from ..history import record_announcement
from ..models import Announcement, Event, Group, Instrument, Participant
from ..participants import canonical_code
from ..registration import build_group, build_instrument, build_participant
from ..schemas import (
    AnnouncementCreateSchema,
    GroupCreateSchema,
    InstrumentCreateSchema,
    ParticipantCreateSchema,
)
from .bulk import record_events_bulk
from .files import EventReader, FileProblem
from .lines import BulkProblems, LineProblem, NewEvent

RECORDED_BY = "seed"
KINDS = ("groups", "instruments", "participants", "events", "announcements")


class SeedError(Exception):
    """A seed file that cannot be loaded; the message names the file and the line."""


@dataclass
class Tally:
    """What one kind of seed data came to."""

    created: int = 0
    skipped: int = 0


def seed(session: Session, path: Path) -> dict[str, Tally]:
    """Load every seed file in ``path`` (not committed); raises SeedError."""
    tallies = {kind: Tally() for kind in KINDS}
    seed_groups(session, path / "groups.json", tallies["groups"])
    seed_instruments(session, path / "instruments.json", tallies["instruments"])
    seed_participants(session, path / "participants.csv", tallies["participants"])
    seed_events(session, path / "events.csv", tallies["events"])
    seed_announcements(session, path / "announcements.csv", tallies["announcements"])
    return tallies


# --- reading files --------------------------------------------------------------------------


def _json_items(path: Path) -> list[dict]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeedError(f"{path.name}: cannot be read: {error}") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SeedError(f"{path.name}: must be a JSON list of objects")
    return items


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each row of a CSV file with a header."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            start = 2
            for row in reader:
                line, start = start, reader.line_num + 1
                if None in row or None in row.values():
                    raise SeedError(f"{path.name} line {line}: not as many cells as the header")
                yield line, row
    except (OSError, UnicodeDecodeError) as error:
        raise SeedError(f"{path.name}: cannot be read: {error}") from None


def _load(schema, body: dict, where: str):
    """The body loaded by the API's schema, or a SeedError naming the first field at fault."""
    try:
        return schema.load(body)
    except ValidationError as error:
        name, messages = next(iter(flatten_errors(error.messages).items()))
        raise SeedError(f"{where}: {name}: {' '.join(messages)}") from None


@contextmanager
def _named(where: str) -> Iterator[None]:
    """A refusal of the gate as a SeedError naming the file, the line and the field."""
    try:
        yield
    except Problem as problem:
        field, messages = next(iter((problem.errors or {"body": [problem.detail]}).items()))
        raise SeedError(f"{where}: {field}: {' '.join(messages)}") from None


def _integer(text: str):
    """A CSV cell as an int when it is one (else as given, for the schema to refuse)."""
    return int(text) if text.isdecimal() else text


# --- groups, instruments, participants ------------------------------------------------------


def seed_groups(session: Session, path: Path, tally: Tally) -> None:
    """The groups of ``groups.json`` not yet registered."""
    present = set(session.scalars(select(Group.slug)))
    created = []
    for number, item in enumerate(_json_items(path), 1):
        data = _load(GroupCreateSchema(), item, f"{path.name} item {number}")
        if data["slug"] in present:
            tally.skipped += 1
            continue
        created.append(build_group(data))
        session.add(created[-1])
        present.add(data["slug"])
        tally.created += 1
    record_registered(session, created, RECORDED_BY)


def seed_instruments(session: Session, path: Path, tally: Tally) -> None:
    """The instruments of ``instruments.json``, with their provisions, not yet registered."""
    present = set(session.scalars(select(Instrument.slug)))
    created = []
    for number, item in enumerate(_json_items(path), 1):
        where = f"{path.name} item {number}"
        data = _load(InstrumentCreateSchema(), item, where)
        if data["slug"] in present:
            tally.skipped += 1
            continue
        group = _group(session, data["group"], where) if data.get("group") else None
        created.append(build_instrument(data, group))
        session.add(created[-1])
        present.add(data["slug"])
        tally.created += 1
    record_registered(session, created, RECORDED_BY)


def _group(session: Session, slug: str, where: str) -> Group:
    group = session.scalars(select(Group).where(Group.slug == slug)).one_or_none()
    if group is None:
        raise SeedError(f"{where}: group: no group {slug!r}")
    return group


def seed_participants(session: Session, path: Path, tally: Tally) -> None:
    """The regions and organisations of ``participants.csv`` (countries need no row)."""
    present = set(session.scalars(select(Participant.code)))
    created = []
    for line, row in _csv_rows(path):
        where = f"{path.name} line {line}"
        body = {name: row[name] for name in ("code", "name", "kind") if name in row}
        if row.get("url"):
            body["url"] = row["url"]
        data = _load(ParticipantCreateSchema(), body, where)
        with _named(where):
            participant = build_participant(data)
        if data["code"] in present:
            tally.skipped += 1
            continue
        created.append(participant)
        session.add(participant)
        present.add(data["code"])
        tally.created += 1
    record_registered(session, created, RECORDED_BY)


# --- events and announcements ---------------------------------------------------------------


def seed_events(session: Session, path: Path, tally: Tally) -> None:
    """The events of ``events.csv`` (the import format) not yet recorded, through the rules."""
    present = _present_events(session)
    reader = EventReader(session)

    def new_items(items: Iterable[NewEvent | LineProblem]) -> Iterator[NewEvent | LineProblem]:
        for item in items:
            if isinstance(item, NewEvent) and _event_key(item) in present:
                tally.skipped += 1
            else:
                yield item

    try:
        counts: Counter = record_events_bulk(session, new_items(reader.read(path)), RECORDED_BY)
    except BulkProblems as error:
        more = len(error.problems) - 1
        raise SeedError(
            f"{path.name} {error.problems[0]}" + (f" (and {more} more)" if more else "")
        ) from None
    except FileProblem as error:
        raise SeedError(f"{path.name}: {error}") from None
    tally.created += sum(counts.values())


def _event_key(item: NewEvent) -> tuple:
    """What makes a seed event the same as a recorded one."""
    target = ("group" if isinstance(item.target, Group) else "instrument", item.target.id)
    data = item.data
    return (
        target,
        item.type,
        canonical_code(data["participant"]),
        data["effective_on"],
        data.get("earliest_on"),
    )


def _present_events(session: Session) -> set[tuple]:
    """The keys of every visible event (the seeds are small; so is this, on a seeded registry)."""
    rows = session.execute(
        select(
            Event.group_id,
            Event.instrument_id,
            Event.type,
            Participant.code,
            Event.effective_on,
            Event.earliest_on,
        )
        .join(Participant, Event.participant_id == Participant.id)
        .where(Event.retracted_at.is_(None))
    )
    return {
        (
            ("group", row.group_id) if row.group_id else ("instrument", row.instrument_id),
            row.type,
            row.code,
            row.effective_on,
            row.earliest_on,
        )
        for row in rows
    }


def seed_announcements(session: Session, path: Path, tally: Tally) -> None:
    """The announced totals of ``announcements.csv`` not yet recorded."""
    groups = {group.slug: group for group in session.scalars(select(Group))}
    present = {
        (a.group_id, a.as_of, a.count, a.source.url if a.source else None)
        for a in session.scalars(select(Announcement))
    }
    for line, row in _csv_rows(path):
        where = f"{path.name} line {line}"
        group = groups.get(row.get("group", ""))
        if group is None:
            raise SeedError(f"{where}: group: no group {row.get('group')!r}")
        data = _load(AnnouncementCreateSchema(), _announcement_body(row), where)
        key = (group.id, data["as_of"], data["count"], data["source"]["url"])
        if key in present:
            tally.skipped += 1
            continue
        with _named(where):
            record_announcement(session, group, data, RECORDED_BY)
        present.add(key)
        tally.created += 1
    session.flush()


def _announcement_body(row: dict[str, str]) -> dict:
    """The API's announcement body from a row of ``announcements.csv``."""
    source = {
        name: row[f"source_{name}"]
        for name in ("url", "title", "published_on", "reliability")
        if row.get(f"source_{name}")
    }
    return {
        "as_of": row.get("as_of", ""),
        "count": _integer(row.get("count", "")),
        "source": source,
        "note": row.get("note") or None,
    }
