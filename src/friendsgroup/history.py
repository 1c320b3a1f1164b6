"""The gate for every dated fact: the rules of history and those on announced totals.

The rules are stated for readers in the README, "How the registry decides".

The API, the importer and the seeder all write events and announcements through this module.
A write locks each participant before reading its history, so the read-check-write is never
interleaved with another writer's for the same participant (row lock on PostgreSQL; on SQLite the
writer's BEGIN IMMEDIATE holds the database lock). ``ingest/bulk.py`` applies these same
check functions to many lines at once for the importer and the seeder.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Row, bindparam, insert, select
from sqlalchemy.orm import Session

from .changes import insert_logged_event, record_change
from .errors import Problem, conflict, validation_problem
from .lookups import GroupRef
from .models import Announcement, Event, Group, Instrument, Participant, Source, same_day_place
from .participants import resolve_locked_ref
from .timeutil import today, utcnow

FUTURE_LIMIT = timedelta(days=366)
# Events that open or close a period; reports stand beside the periods.
OPENING = {"accession", "commitment"}


@dataclass(frozen=True)
class Step:
    """One event of a timeline, as the rules see it."""

    type: str
    effective_on: date
    order: float  # its place (see same_day_place); a new event sorts after its same-day peers
    event_id: int | None = None
    earliest_on: date | None = None  # the start of an uncertain date's window


def timeline_problem(
    steps: Iterable[Step],
    new: Step | None,
    target: str,
    is_group: bool,
    who: str = "the participant",
) -> Problem | None:
    """The first rule a (participant, group/instrument) timeline breaks, or None.

    ``new`` is the step being added, if any: a break at it is named after the rule
    (already-member, not-a-member, …); a break later on is a history conflict.
    """
    ordered = sorted([*steps, *([new] if new else [])], key=lambda s: (s.effective_on, s.order))
    active = False
    since: date | None = None
    for step in ordered:
        broken = (
            (step.type == "accession" and active)
            or (step.type == "withdrawal" and not active)
            or (step.type == "report" and not active)
        )
        if broken:
            return _rule_problem(step, new, _Context(target, is_group, who, since))
        if step.type in OPENING and not active:
            since = step.effective_on
        if step.type in OPENING:
            active = True
        elif step.type == "withdrawal":
            active = False
    return None


@dataclass(frozen=True)
class _Context:
    """What a rule problem's message names."""

    target: str
    is_group: bool
    who: str
    since: date | None


def _rule_problem(step: Step, new: Step | None, context: _Context) -> Problem:
    """The 409 for a timeline broken at ``step``."""
    on = step.effective_on.isoformat()
    target, who = context.target, context.who
    if step is not new:
        detail = (
            f"the change would leave event {step.event_id} ({step.type} of {who} on {on}) "
            f"inconsistent with the rest of the history in {target}"
        )
        window = getattr(step, "earliest_on", None)
        if window is not None and new is not None and new.type == step.type:
            # The recorded date is only the end of a window: the new fact most likely dates it.
            detail += (
                f"; event {step.event_id} has an uncertain date (between {window} and {on}): "
                f"if this is when it happened, correct event {step.event_id} instead "
                f"(POST /api/v1/events/{step.event_id}/correction with effective_on)"
            )
        return conflict("history-conflict", "History conflict", detail, "effective_on")
    if step.type == "accession":
        return conflict(
            "already-member",
            "Already a member",
            f"{who} is a member of {target} since {context.since} (accession on {on} refused)",
            "effective_on",
        )
    if step.type == "report":
        return conflict(
            "no-active-commitment",
            "No active commitment",
            f"{who} has no active commitment to {target} on {on}",
            "effective_on",
        )
    if context.is_group:
        return conflict(
            "not-a-member",
            "Not a member",
            f"{who} is not a member of {target} on {on}",
            "effective_on",
        )
    return conflict(
        "not-committed",
        "Not committed",
        f"{who} is not committed to {target} on {on}",
        "effective_on",
    )


@dataclass(frozen=True)
class Target:
    """A group or an instrument, seen through what the rules need of it."""

    entity: Group | GroupRef | Instrument

    @property
    def is_group(self) -> bool:
        return not isinstance(self.entity, Instrument)

    @property
    def starts_on(self) -> date:
        return self.entity.established_on if self.is_group else self.entity.adopted_on

    @property
    def slug(self) -> str:
        return self.entity.slug

    @property
    def member_kinds(self) -> tuple[str, ...] | None:
        """The participant kinds a group admits (None for an instrument: any)."""
        return tuple(self.entity.member_kinds) if self.is_group else None

    @property
    def provision_numbers(self) -> frozenset[int] | None:
        """An instrument's provision numbers (None for a group)."""
        return None if self.is_group else frozenset(p.number for p in self.entity.provisions)


def latest_effective_on() -> date:
    """The latest date an event may take effect on: 366 days from today."""
    return today() + FUTURE_LIMIT


def check_dates(
    target: Target, effective_on: date, earliest_on: date | None, latest_on: date | None = None
) -> None:
    """The date rules: within the target's life, not too far ahead, window in order.

    ``latest_on`` is ``latest_effective_on()``, passed in by callers checking many events.
    """
    if target.starts_on <= effective_on <= (latest_on or latest_effective_on()) and (
        earliest_on is None or target.starts_on <= earliest_on <= effective_on
    ):
        return
    label = "established_on" if target.is_group else "adopted_on"
    if effective_on < target.starts_on:
        raise validation_problem(
            "effective_on", f"is before {target.slug}'s {label} ({target.starts_on.isoformat()})"
        )
    if effective_on > (latest_on or latest_effective_on()):
        raise validation_problem("effective_on", "is more than 366 days in the future")
    if earliest_on > effective_on:
        raise validation_problem("earliest_on", "must not be after effective_on")
    raise validation_problem(
        "earliest_on", f"is before {target.slug}'s {label} ({target.starts_on.isoformat()})"
    )


def check_admitted(target: Target, participant: Participant | Row) -> None:
    """A group admits only the participant kinds it lists."""
    kinds = target.member_kinds
    if kinds is not None and participant.kind not in kinds:
        raise validation_problem(
            "participant",
            f"{participant.code} is a {participant.kind}; {target.slug} admits {', '.join(kinds)}",
        )


def check_provisions(target: Target, event_type: str, provisions: list[int] | None) -> None:
    """A commitment's provisions must be distinct numbers of the instrument."""
    if provisions is None:
        return
    if event_type != "commitment":
        raise validation_problem("provisions", "only a commitment lists provisions")
    unknown = sorted(set(provisions) - target.provision_numbers)
    if unknown:
        raise validation_problem(
            "provisions", f"{target.slug} has no provision {', '.join(map(str, unknown))}"
        )
    if len(set(provisions)) != len(provisions):
        raise validation_problem("provisions", "must not repeat a number")


def check_sources(event_type: str, sources: list[dict] | None) -> None:
    """A report needs at least one source."""
    if event_type == "report" and not sources:
        raise validation_problem("sources", "a report needs at least one source")


def check_body(target: Target, event_type: str, data: dict, latest_on: date | None = None) -> None:
    """Every rule on one event's own fields, before its participant or history is read."""
    check_dates(target, data["effective_on"], data.get("earliest_on"), latest_on)
    check_provisions(target, event_type, data.get("provisions"))
    check_sources(event_type, data.get("sources"))


# Every check on a single event or announced total, whichever door it comes through: the
# parity test makes each fail in turn and expects every door to refuse.
EVENT_CHECKS = ("check_dates", "check_provisions", "check_sources", "check_admitted")
ANNOUNCEMENT_CHECKS = ("check_announced_on",)


def lock_participant(session: Session, participant: Participant) -> None:
    """Serialise writers of one participant's history (a row lock on PostgreSQL)."""
    session.execute(
        select(Participant.id).where(Participant.id == participant.id).with_for_update()
    )


def _steps_statement(target_column):
    """A participant's current (unretracted) events in one group or instrument."""
    return select(
        Event.id,
        Event.type,
        Event.effective_on,
        same_day_place().label("place"),
        Event.earliest_on,
    ).where(
        target_column == bindparam("target_id"),
        Event.participant_id == bindparam("participant_id"),
        Event.retracted_at.is_(None),
    )


# Built once per kind of target: every event write reads a timeline.
STEPS = {True: _steps_statement(Event.group_id), False: _steps_statement(Event.instrument_id)}


def visible_steps(session: Session, target: Target, participant: Participant | Row) -> list[Step]:
    """The current (unretracted) events of a participant in a group or instrument."""
    # Core execution: plain rows, none of the ORM's work on results.
    rows = session.connection().execute(
        STEPS[target.is_group], {"target_id": target.entity.id, "participant_id": participant.id}
    )
    return [Step(row.type, row.effective_on, row.place, row.id, row.earliest_on) for row in rows]


def _enforce(target: Target, who: str, steps: list[Step], new: Step | None) -> None:
    """Raise the first rule the timeline breaks."""
    problem = timeline_problem(steps, new, target.slug, target.is_group, who)
    if problem is not None:
        raise problem


def _new_step(event_type: str, effective_on: date) -> Step:
    """The step of an event not yet written: after its same-day peers."""
    return Step(event_type, effective_on, float("inf"))


def build_sources(sources: list[dict]) -> list[Source]:
    """Source rows in the order given."""
    return [Source(position=i, **source) for i, source in enumerate(sources)]


@dataclass(frozen=True)
class WrittenEvent:
    """A new event as written, for its answer: what ``EventSchema`` reads of an event."""

    id: int
    type: str
    group: Group | GroupRef | None
    instrument: Instrument | None
    participant: Row  # id, code, name and kind
    effective_on: date
    earliest_on: date | None
    provisions: list[int] | None
    note: str | None
    sources: list[dict]  # the source rows written, in order
    recorded_at: datetime
    recorded_by: str
    retracted_at: None = None
    retraction_reason: None = None
    retracted_by: None = None
    supersedes_id: None = None
    superseded_by: None = None


# Built once: every event with sources runs it. Core, not the ORM, as for the event: nothing
# of the new rows is read back but the event's id, so a flush would only add its bookkeeping.
SOURCE_INSERT = insert(Source.__table__)
SOURCE_FIELDS = ("url", "title", "publisher", "published_on", "reliability")


def record_event(
    session: Session,
    target_entity: Group | GroupRef | Instrument,
    event_type: str,
    data: dict,
    recorded_by: str,
) -> WrittenEvent:
    """Validate and write one event (not committed): the only way a new event is written."""
    target = Target(target_entity)
    check_body(target, event_type, data)
    # Found and locked in one statement: writers of one participant's history queue here.
    participant = resolve_locked_ref(session, data["participant"])
    check_admitted(target, participant)
    steps = visible_steps(session, target, participant)
    _enforce(target, participant.code, steps, _new_step(event_type, data["effective_on"]))
    group, instrument = (target_entity, None) if target.is_group else (None, target_entity)
    columns = {
        "type": event_type,
        "group_id": group.id if group else None,
        "instrument_id": instrument.id if instrument else None,
        "participant_id": participant.id,
        "effective_on": data["effective_on"],
        "earliest_on": data.get("earliest_on"),
        "provisions": data.get("provisions"),
        "note": data.get("note"),
        "recorded_at": utcnow(),
        "recorded_by": recorded_by,
    }
    # The writer has the names webhook filters match, so they are not read again.
    names = (target.slug, None) if target.is_group else (None, target.slug)
    event_id = insert_logged_event(session, columns, (*names, participant.code))
    # Every row with every field: one executemany takes its columns from the first row.
    sources = [
        {"event_id": event_id, "position": position, **{f: s.get(f) for f in SOURCE_FIELDS}}
        for position, s in enumerate(data.get("sources") or [])
    ]
    if sources:
        session.connection().execute(SOURCE_INSERT, sources)
    return WrittenEvent(
        event_id,
        event_type,
        group,
        instrument,
        participant,
        columns["effective_on"],
        columns["earliest_on"],
        columns["provisions"],
        columns["note"],
        sources,
        columns["recorded_at"],
        recorded_by,
    )


def _target_of(event: Event) -> Target:
    return Target(event.group if event.group is not None else event.instrument)


def _refuse_if_retracted(record: Event | Announcement, what: str = "event") -> None:
    if record.retracted_at is not None:
        raise conflict(
            "already-retracted",
            "Already retracted",
            f"{what} {record.id} was retracted at {record.retracted_at.isoformat()}",
        )


def _mark_retracted(
    record: Event | Announcement, reason: str, by: str, at: datetime | None = None
) -> datetime:
    """Mark a record retracted (it stays, with who, when and why); the instant."""
    record.retracted_at = at or utcnow()
    record.retraction_reason = reason
    record.retracted_by = by
    return record.retracted_at


def retract_event(
    session: Session,
    event: Event,
    reason: str,
    at: datetime | None = None,
    retracted_by: str = "unknown",
) -> Event:
    """Mark an event as withdrawn from the record, if the rest of the history still holds."""
    lock_participant(session, event.participant)
    session.refresh(event)
    _refuse_if_retracted(event)
    target = _target_of(event)
    steps = [s for s in visible_steps(session, target, event.participant) if s.event_id != event.id]
    _enforce(target, event.participant.code, steps, None)
    record_change(
        session, "retracted", event, retracted_by, _mark_retracted(event, reason, retracted_by, at)
    )
    return event


def corrected_fields(event: Event, changes: dict) -> dict:
    """The replacement's fields: each one given is replaced (``null`` clears it), the rest copied.

    ``sources`` replaces the event's sources and ``add_sources`` appends to them (or to the
    replaced ones); 422 when the result is the event as it stands.
    """
    current = {
        "effective_on": event.effective_on,
        "earliest_on": event.earliest_on,
        "provisions": event.provisions,
        "note": event.note,
        "sources": [_source_values(s) for s in event.sources],
    }
    fields = {name: changes.get(name, value) for name, value in current.items()}
    fields["sources"] = [
        {**SOURCE_DEFAULTS, **source}
        for source in [*fields["sources"], *changes.get("add_sources", [])]
    ]
    if fields == current:
        raise validation_problem(
            "body", "the correction changes nothing: give at least one field with a new value"
        )
    if len(fields["sources"]) > MAX_SOURCES:
        raise validation_problem("add_sources", f"an event has at most {MAX_SOURCES} sources")
    return fields


# As many sources as an event's body may give.
MAX_SOURCES = 20


def correct_event(session: Session, event: Event, changes: dict, recorded_by: str) -> Event:
    """Retract an event and record its replacement in one transaction (not committed)."""
    lock_participant(session, event.participant)
    session.refresh(event)
    _refuse_if_retracted(event)
    target = _target_of(event)
    fields = corrected_fields(event, changes)
    effective_on, earliest_on = fields["effective_on"], fields["earliest_on"]
    provisions, sources = fields["provisions"], fields["sources"]
    check_body(
        target,
        event.type,
        {
            "effective_on": effective_on,
            "earliest_on": earliest_on,
            "provisions": provisions,
            "sources": sources,
        },
    )
    steps = [s for s in visible_steps(session, target, event.participant) if s.event_id != event.id]
    # Same type, same day: the replacement keeps the replaced event's place among its peers.
    place = event.day_place if effective_on == event.effective_on else None
    new = Step(event.type, effective_on, place) if place else _new_step(event.type, effective_on)
    _enforce(target, event.participant.code, steps, new)
    now = _mark_retracted(event, changes["reason"], recorded_by)
    replacement = Event(
        type=event.type,
        participant=event.participant,
        group=event.group,
        instrument=event.instrument,
        effective_on=effective_on,
        earliest_on=earliest_on,
        provisions=provisions,
        note=fields["note"],
        recorded_at=now,
        recorded_by=recorded_by,
        sources=build_sources(sources),
        supersedes_id=event.id,
        place=place,
        superseded_by=None,
        origin=event.origin,  # still the same row's fact, corrected
    )
    session.add(replacement)
    record_change(session, "corrected", replacement, recorded_by, now)
    return replacement


# A source as stored when a body leaves a field out.
SOURCE_DEFAULTS = {"title": None, "publisher": None, "published_on": None}


def _source_values(source: Source) -> dict:
    return {
        "url": source.url,
        "title": source.title,
        "publisher": source.publisher,
        "published_on": source.published_on,
        "reliability": source.reliability,
    }


def check_announced_on(group: Group, as_of: date) -> None:
    """An announced total is dated within the group's life, not before it was established."""
    if as_of < group.established_on:
        raise validation_problem(
            "as_of", f"is before {group.slug}'s established_on ({group.established_on})"
        )


def record_announcement(
    session: Session, group: Group, data: dict, recorded_by: str
) -> Announcement:
    """Validate and add one announced total (not committed): the only way one is written."""
    check_announced_on(group, data["as_of"])
    announcement = Announcement(
        group=group,
        as_of=data["as_of"],
        count=data["count"],
        bound=data.get("bound", "exact"),
        note=data.get("note"),
        recorded_by=recorded_by,
        sources=build_sources([data["source"]]),
        origin=data.get("origin"),
        superseded_by=None,
    )
    session.add(announcement)
    record_change(session, "recorded", announcement, recorded_by)
    return announcement


def _lock_announcement(session: Session, announcement: Announcement) -> None:
    """Re-read the announcement under a row lock: two curators never retract it both."""
    session.execute(
        select(Announcement.id).where(Announcement.id == announcement.id).with_for_update()
    )
    session.refresh(announcement)
    _refuse_if_retracted(announcement, "announcement")


def retract_announcement(
    session: Session,
    announcement: Announcement,
    reason: str,
    retracted_by: str,
    at: datetime | None = None,
) -> Announcement:
    """Mark an announced total as withdrawn from the record (it stays, marked retracted)."""
    _lock_announcement(session, announcement)
    at = _mark_retracted(announcement, reason, retracted_by, at)
    record_change(session, "retracted", announcement, retracted_by, at)
    return announcement


# The fields of an announcement a correction may change; an omitted one is copied.
ANNOUNCEMENT_FIELDS = ("as_of", "count", "bound", "note", "source")


def correct_announcement(
    session: Session, announcement: Announcement, changes: dict, recorded_by: str
) -> Announcement:
    """Retract an announcement and record its replacement in one transaction (not committed)."""
    _lock_announcement(session, announcement)
    current = {
        "as_of": announcement.as_of,
        "count": announcement.count,
        "bound": announcement.bound,
        "note": announcement.note,
        "source": _source_values(announcement.source) if announcement.source else None,
    }
    corrected = {name: changes.get(name, current[name]) for name in ANNOUNCEMENT_FIELDS}
    if corrected["source"] is not None:
        corrected["source"] = {**SOURCE_DEFAULTS, **corrected["source"]}
    if corrected == current:
        raise validation_problem(
            "body", "the correction changes nothing: give at least one field with a new value"
        )
    check_announced_on(announcement.group, corrected["as_of"])
    now = _mark_retracted(announcement, changes["reason"], recorded_by)
    replacement = Announcement(
        group=announcement.group,
        as_of=corrected["as_of"],
        count=corrected["count"],
        bound=corrected["bound"],
        note=corrected["note"],
        recorded_at=now,
        recorded_by=recorded_by,
        sources=build_sources([corrected["source"]] if corrected["source"] else []),
        supersedes_id=announcement.id,
        superseded_by=None,
        origin=announcement.origin,  # still the same row's fact, corrected
    )
    session.add(replacement)
    record_change(session, "corrected", replacement, recorded_by, now)
    return replacement
