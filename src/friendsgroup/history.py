"""The rules of SPEC §2: the one place that decides whether an event may be recorded.

The API, the importer and the seeder all write events through this module. A write locks
each participant before reading its history, so the read-check-write is never interleaved
with another writer's for the same participant (row lock on PostgreSQL; on SQLite the
writer's BEGIN IMMEDIATE holds the database lock). Bulk writers also take one advisory lock,
so that two imports, which lock participants in file order, cannot deadlock each other.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .bulkwrite import BatchWriter, CopyWriter
from .errors import Problem, conflict, validation_problem
from .models import Event, Group, Instrument, Participant, Source
from .participants import iso_country, resolve_participant
from .timeutil import today, utcnow

FUTURE_LIMIT = timedelta(days=366)
# Events that open or close a period; reports stand beside the periods.
OPENING = {"accession", "commitment"}


@dataclass(frozen=True)
class Step:
    """One event of a timeline, as the rules see it."""

    type: str
    effective_on: date
    order: float  # the event id; a not-yet-written event sorts after its same-day peers
    event_id: int | None = None


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
        return conflict(
            "history-conflict",
            "History conflict",
            f"the change would leave event {step.event_id} ({step.type} of {who} on {on}) "
            f"inconsistent with the rest of the history in {target}",
            "effective_on",
        )
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

    entity: Group | Instrument

    @property
    def is_group(self) -> bool:
        return isinstance(self.entity, Group)

    @property
    def starts_on(self) -> date:
        return self.entity.established_on if self.is_group else self.entity.adopted_on

    @property
    def slug(self) -> str:
        return self.entity.slug

    def event_filter(self):
        """The WHERE clause selecting this target's events."""
        if self.is_group:
            return Event.group_id == self.entity.id
        return Event.instrument_id == self.entity.id


def check_dates(target: Target, effective_on: date, earliest_on: date | None) -> None:
    """The date rules: within the target's life, not too far ahead, window in order."""
    label = "established_on" if target.is_group else "adopted_on"
    if effective_on < target.starts_on:
        raise validation_problem(
            "effective_on", f"is before {target.slug}'s {label} ({target.starts_on.isoformat()})"
        )
    if effective_on > today() + FUTURE_LIMIT:
        raise validation_problem("effective_on", "is more than 366 days in the future")
    if earliest_on is not None:
        if earliest_on > effective_on:
            raise validation_problem("earliest_on", "must not be after effective_on")
        if earliest_on < target.starts_on:
            raise validation_problem(
                "earliest_on",
                f"is before {target.slug}'s {label} ({target.starts_on.isoformat()})",
            )


def check_admitted(target: Target, participant: Participant) -> None:
    """A group admits only the participant kinds it lists."""
    if target.is_group and participant.kind not in target.entity.member_kinds:
        raise validation_problem(
            "participant",
            f"{participant.code} is a {participant.kind}; {target.slug} admits "
            f"{', '.join(target.entity.member_kinds)}",
        )


def check_provisions(target: Target, event_type: str, provisions: list[int] | None) -> None:
    """A commitment's provisions must be distinct numbers of the instrument."""
    if provisions is None:
        return
    if event_type != "commitment":
        raise validation_problem("provisions", "only a commitment lists provisions")
    known = {p.number for p in target.entity.provisions}
    unknown = sorted(set(provisions) - known)
    if unknown:
        raise validation_problem(
            "provisions", f"{target.slug} has no provision {', '.join(map(str, unknown))}"
        )
    if len(set(provisions)) != len(provisions):
        raise validation_problem("provisions", "must not repeat a number")


def lock_participant(session: Session, participant: Participant) -> None:
    """Serialise writers of one participant's history (a row lock on PostgreSQL)."""
    session.execute(
        select(Participant.id).where(Participant.id == participant.id).with_for_update()
    )


def visible_steps(session: Session, target: Target, participant: Participant) -> list[Step]:
    """The current (unretracted) events of a participant in a group or instrument."""
    rows = session.execute(
        select(Event.id, Event.type, Event.effective_on).where(
            target.event_filter(),
            Event.participant_id == participant.id,
            Event.retracted_at.is_(None),
        )
    )
    return [Step(row.type, row.effective_on, row.id, row.id) for row in rows]


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


def record_event(
    session: Session,
    target_entity: Group | Instrument,
    event_type: str,
    data: dict,
    recorded_by: str,
) -> Event:
    """Validate and add one event (not committed): the only way a new event is written."""
    target = Target(target_entity)
    check_dates(target, data["effective_on"], data.get("earliest_on"))
    check_provisions(target, event_type, data.get("provisions"))
    check_sources(event_type, data.get("sources"))
    # Found and locked in one statement: writers of one participant's history queue here.
    participant = resolve_participant(session, data["participant"], lock=True)
    check_admitted(target, participant)
    steps = visible_steps(session, target, participant)
    _enforce(target, participant.code, steps, _new_step(event_type, data["effective_on"]))
    event = Event(
        type=event_type,
        participant=participant,
        effective_on=data["effective_on"],
        earliest_on=data.get("earliest_on"),
        provisions=data.get("provisions"),
        note=data.get("note"),
        recorded_at=utcnow(),
        recorded_by=recorded_by,
        sources=build_sources(data.get("sources") or []),
        # A new event supersedes nothing yet; saying so spares a load after the flush.
        superseded_by=None,
    )
    if target.is_group:
        event.group = target_entity
    else:
        event.instrument = target_entity
    session.add(event)
    session.flush()
    return event


def _target_of(event: Event) -> Target:
    return Target(event.group if event.group is not None else event.instrument)


def _refuse_if_retracted(event: Event) -> None:
    if event.retracted_at is not None:
        raise conflict(
            "already-retracted",
            "Already retracted",
            f"event {event.id} was retracted at {event.retracted_at.isoformat()}",
        )


def retract_event(session: Session, event: Event, reason: str, at: datetime | None = None) -> Event:
    """Mark an event as withdrawn from the record, if the rest of the history still holds."""
    lock_participant(session, event.participant)
    session.refresh(event)
    _refuse_if_retracted(event)
    target = _target_of(event)
    steps = [s for s in visible_steps(session, target, event.participant) if s.event_id != event.id]
    _enforce(target, event.participant.code, steps, None)
    event.retracted_at = at or utcnow()
    event.retraction_reason = reason
    session.flush()
    return event


def correct_event(session: Session, event: Event, changes: dict, recorded_by: str) -> Event:
    """Retract an event and record its replacement in one transaction (not committed)."""
    lock_participant(session, event.participant)
    session.refresh(event)
    _refuse_if_retracted(event)
    target = _target_of(event)
    effective_on = changes.get("effective_on", event.effective_on)
    earliest_on = changes.get("earliest_on", event.earliest_on)
    provisions = changes.get("provisions", event.provisions)
    sources = changes.get("sources")
    if sources is None:
        sources = [_source_values(s) for s in event.sources]
    check_dates(target, effective_on, earliest_on)
    check_provisions(target, event.type, provisions)
    check_sources(event.type, sources)
    steps = [s for s in visible_steps(session, target, event.participant) if s.event_id != event.id]
    _enforce(target, event.participant.code, steps, _new_step(event.type, effective_on))
    now = utcnow()
    event.retracted_at = now
    event.retraction_reason = changes["reason"]
    replacement = Event(
        type=event.type,
        participant=event.participant,
        group=event.group,
        instrument=event.instrument,
        effective_on=effective_on,
        earliest_on=earliest_on,
        provisions=provisions,
        note=changes.get("note", event.note),
        recorded_at=now,
        recorded_by=recorded_by,
        sources=build_sources(sources),
        supersedes_id=event.id,
        superseded_by=None,
    )
    session.add(replacement)
    session.flush()
    return replacement


def _source_values(source: Source) -> dict:
    return {
        "url": source.url,
        "title": source.title,
        "publisher": source.publisher,
        "published_on": source.published_on,
        "reliability": source.reliability,
    }


# --- bulk writes: the importer and the seeder -------------------------------------------------

# A not-yet-written event sorts after every written one on its day (ids stay far below this).
PENDING = 1 << 62
# Serialises bulk writers on PostgreSQL: they lock participants in file order, not by id.
BULK_LOCK_KEY = 0x6667_6275_6C6B


class LineRef(int):
    """The stand-in id of a not-yet-written event: its line, named as such in messages."""

    def __format__(self, spec: str) -> str:
        return f"on line {int(self)}"


class NewEvent(NamedTuple):
    """One event of a bulk write: its target, type, body as the API's schemas load it, line."""

    target: Group | Instrument
    type: str
    data: dict
    line: int


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one line of a bulk write cannot be recorded."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class BulkProblems(Exception):
    """A refused bulk write, with every problem of every line at fault, in line order."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(str(self.problems[0]) if self.problems else "refused")


def line_problems(line: int, problem: Problem) -> list[LineProblem]:
    """A problem of the API as problems of one line, one per field message."""
    if not problem.errors:
        return [LineProblem(line, "body", problem.detail or problem.title)]
    return [
        LineProblem(line, field, message)
        for field, messages in problem.errors.items()
        for message in messages
    ]


def check_sources(event_type: str, sources: list[dict] | None) -> None:
    """A report needs at least one source."""
    if event_type == "report" and not sources:
        raise validation_problem("sources", "a report needs at least one source")


@lru_cache(maxsize=4096)
def canonical_code(code: str) -> str:
    """The code a participant is stored under: alpha-3 for an ISO country, else upper case."""
    country = iso_country(code)
    return country.alpha_3 if country is not None else code.upper()


@dataclass(frozen=True, slots=True)
class _Who:
    """A participant as the bulk rules see it (``id`` is None for a country not yet registered)."""

    id: int | None
    code: str
    kind: str


def record_events_bulk(
    session: Session,
    items: Iterable[NewEvent | LineProblem],
    recorded_by: str,
    *,
    write: bool = True,
) -> Counter:
    """Check many events by the rules of ``record_event`` and add them (not committed).

    ``items`` is consumed once, as it comes; a ``LineProblem`` among them (a line that failed
    field validation) is reported with the rest. Raises ``BulkProblems`` naming every line at
    fault; the caller then rolls back. ``write=False`` checks without writing anything.
    Returns the number of events per (``group``/``instrument``, slug, type).
    """
    bulk = _BulkRecorder(session, recorded_by, write)
    try:
        chunk: list[NewEvent | LineProblem] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= LOOKAHEAD:
                bulk.add_all(chunk)
                chunk = []
        bulk.add_all(chunk)
        return bulk.finish()
    finally:
        bulk.close()


# Items read ahead, so that the participants first seen among them are looked up together.
LOOKAHEAD = 1_000


class _PendingStep(NamedTuple):
    """A ``Step`` of a line not yet written (a tuple: there are as many as lines).

    ``event_id`` is the line, a ``LineRef`` once a message may name it.
    """

    type: str
    effective_on: date
    order: int
    event_id: int


class _BulkTarget:
    """A ``Target`` whose values are read from the entity once, not at every line."""

    __slots__ = ("admits", "created", "entity", "is_group", "numbers", "slug", "starts_on", "steps")

    def __init__(self, entity: Group | Instrument) -> None:
        target = Target(entity)
        self.entity = entity
        self.is_group = target.is_group
        self.slug = target.slug
        self.starts_on = target.starts_on
        # The kinds check_admitted lets in (None: all); it is asked about the others.
        self.admits = frozenset(entity.member_kinds) if target.is_group else None
        # The provision numbers check_provisions knows of (an instrument's).
        self.numbers = None if target.is_group else frozenset(p.number for p in entity.provisions)
        self.created: dict[str, int] = {}  # events per type
        self.steps: dict[str, list[_PendingStep]] = {}  # the new steps of each participant


class _BulkRecorder:
    """The state of one bulk write: participants seen, timelines built, rows written."""

    def __init__(self, session: Session, recorded_by: str, write: bool) -> None:
        self.session = session
        self.write = write
        postgres = session.get_bind().dialect.name == "postgresql"
        if write and postgres:
            session.execute(select(func.pg_advisory_xact_lock(BULK_LOCK_KEY)))
        self.writer = (
            (CopyWriter if postgres else BatchWriter)(session, recorded_by) if write else None
        )
        self.registered = {
            row.code: _Who(row.id, row.code, row.kind)
            for row in session.execute(select(Participant.id, Participant.code, Participant.kind))
        }
        self.seen: dict[str, _Who | Problem] = {}
        self.targets: dict[tuple[str, int], _BulkTarget] = {}
        self.entities: dict[int, tuple[tuple[str, int], _BulkTarget]] = {}  # by id() of entity
        self.existing: dict[tuple, list[Step]] = defaultdict(list)
        self.problems: list[LineProblem] = []
        self.count = 0
        # check_dates passes every date in this range (today() only moves on): it is asked
        # only about the others, for its verdict and its message.
        self.latest_on = today() + FUTURE_LIMIT

    def add_all(self, items: list[NewEvent | LineProblem]) -> None:
        """``add`` each item, having first looked up the participants they name first."""
        fresh: dict[str, str] = {}
        for item in items:
            if type(item) is NewEvent:
                code = item.data["participant"]
                stored = canonical_code(code)
                if stored not in self.seen and stored not in fresh:
                    fresh[stored] = code
        if fresh:
            self._first_sight(fresh)
        for item in items:
            self.add(item)

    def add(self, item: NewEvent | LineProblem) -> None:
        """Check one item against the rules that need no history; write it if all is well so far."""
        if type(item) is not NewEvent:
            self.problems.append(item)
            return
        key, target = self.entities.get(id(item.target)) or self._target(item.target)
        data = item.data
        effective_on = data["effective_on"]
        try:
            who = self._who(data["participant"])
            if target.admits is not None and who.kind not in target.admits:
                check_admitted(target, who)
            earliest_on = data.get("earliest_on")
            if not (
                target.starts_on <= effective_on <= self.latest_on
                and (earliest_on is None or target.starts_on <= earliest_on <= effective_on)
            ):
                check_dates(target, effective_on, earliest_on)
            provisions = data.get("provisions")
            if provisions is not None and not (
                item.type == "commitment"
                and target.numbers is not None
                and target.numbers.issuperset(provisions)
                and len(set(provisions)) == len(provisions)
            ):
                check_provisions(target, item.type, provisions)
            if item.type == "report":
                check_sources(item.type, data.get("sources"))
        except Problem as problem:
            self.problems.extend(line_problems(item.line, problem))
            return
        self.count += 1
        step = _PendingStep(item.type, effective_on, PENDING + self.count, item.line)
        steps = target.steps.get(who.code)
        if steps is None:
            target.steps[who.code] = [step]
        else:
            steps.append(step)
        created = target.created
        created[item.type] = created.get(item.type, 0) + 1
        # Once a line is refused the transaction is rolled back: writing more is wasted work.
        if self.writer is not None and not self.problems:
            self.writer.add(item, key, who.id)

    def finish(self) -> Counter:
        """Check every timeline touched; raise the problems found, or return the counts."""
        if self.writer is not None and not self.problems:
            self.writer.flush()  # the last rows are written while the timelines are checked
        created: Counter = Counter()
        for key, target in self.targets.items():
            for code, steps in target.steps.items():
                self._check(target, code, self.existing.get((key, code), []), steps)
            for event_type, count in target.created.items():
                created[key[0], target.slug, event_type] += count
        if self.problems:
            raise BulkProblems(self.problems)
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        return created

    def close(self) -> None:
        """End a write left open by an error (the caller rolls the transaction back)."""
        if self.writer is not None:
            self.writer.abort()

    def _target(self, entity: Group | Instrument) -> tuple[tuple[str, int], _BulkTarget]:
        found = self.entities.get(id(entity))
        if found is None:
            key = ("group" if isinstance(entity, Group) else "instrument", entity.id)
            target = self.targets[key] = _BulkTarget(entity)
            found = self.entities[id(entity)] = (key, target)
        return found

    def _who(self, code: str) -> _Who:
        """The participant a code names (``add_all`` looked it up on first sight)."""
        who = self.seen[canonical_code(code)]
        if isinstance(who, Problem):
            raise who
        return who

    def _first_sight(self, fresh: dict[str, str]) -> None:
        """Register, lock and read the history of participants seen for the first time.

        ``fresh`` maps each stored code to the code its first line gives, in file order.
        """
        if self.writer is not None:
            self.writer.pause()
        found: list[_Who] = []
        for stored, code in fresh.items():
            who = self.registered.get(stored)
            if who is None:
                if not self.write and iso_country(stored) is not None:
                    self.seen[stored] = _Who(None, stored, "country")
                    continue
                try:  # registered and locked in the same statements
                    participant = resolve_participant(self.session, code, lock=self.write)
                except Problem as problem:
                    self.seen[stored] = problem
                    continue
                who = _Who(participant.id, participant.code, participant.kind)
            elif self.write:
                lock_participant(self.session, who)
            self.seen[stored] = who
            found.append(who)
        self._load_history(found)

    def _load_history(self, found: list["_Who"]) -> None:
        """The participants' visible events in every group and instrument (they are locked)."""
        code_of = {who.id: who.code for who in found if who.id is not None}
        ids = list(code_of)
        for at in range(0, len(ids), 1_000):
            rows = self.session.execute(
                select(
                    Event.id,
                    Event.type,
                    Event.effective_on,
                    Event.group_id,
                    Event.instrument_id,
                    Event.participant_id,
                ).where(
                    Event.participant_id.in_(ids[at : at + 1_000]), Event.retracted_at.is_(None)
                )
            )
            for row in rows:
                key = ("group", row.group_id) if row.group_id else ("instrument", row.instrument_id)
                self.existing[key, code_of[row.participant_id]].append(
                    Step(row.type, row.effective_on, row.id, row.id)
                )

    def _check(
        self, target: _BulkTarget, who: str, existing: list[Step], steps: list[_PendingStep]
    ) -> None:
        """Problems of one timeline, each named after the first line the API would refuse."""
        if _appends(existing, steps):
            # Every prefix of a valid timeline is valid: the lines would each be accepted.
            if timeline_problem([*existing, *steps], None, target.slug, target.is_group) is None:
                return
        accepted = list(existing)
        # A message names a new step's event by its line.
        for step in [step._replace(event_id=LineRef(step.event_id)) for step in steps]:
            problem = timeline_problem(accepted, step, target.slug, target.is_group, who)
            if problem is None:
                accepted.append(step)
            else:
                self.problems.extend(line_problems(int(step.event_id), problem))


def _appends(existing: list[Step], steps: list[_PendingStep]) -> bool:
    """True when the new steps come in date order, none before the last existing one."""
    last = max((s.effective_on for s in existing), default=date.min)
    for step in steps:
        if step.effective_on < last:
            return False
        last = step.effective_on
    return True
