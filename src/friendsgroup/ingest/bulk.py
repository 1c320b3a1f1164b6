"""Many events at once (the importer and the seeder): the rules of history.py, set-wise.

Each line is judged as the API would judge it alone, in file order, by the same check
functions of ``history`` (given values read once, not at every line); only the reading of
histories and the writing are done in bulk.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import history
from ..changes import queue_deliveries
from ..errors import Problem
from ..history import Step, Target, lock_participant, timeline_problem
from ..models import Event, Group, Instrument, Participant, same_day_place
from ..participants import canonical_code, iso_country, resolve_participant
from .lines import BulkProblems, LineProblem, NewEvent
from .writers import BatchWriter, CopyWriter

# A not-yet-written event sorts after every written one on its day (ids stay far below this).
PENDING = 1 << 62
# Serialises bulk writers on PostgreSQL: they lock participants in file order, not by id.
BULK_LOCK_KEY = 0x6667_6275_6C6B


class LineRef(int):
    """The stand-in id of a not-yet-written event: its line, named as such in messages."""

    def __format__(self, spec: str) -> str:
        return f"on line {int(self)}"


def line_problems(line: int, problem: Problem) -> list[LineProblem]:
    """A problem of the API as problems of one line, one per field message."""
    if not problem.errors:
        return [LineProblem(line, "body", problem.detail or problem.title)]
    return [
        LineProblem(line, field, message)
        for field, messages in problem.errors.items()
        for message in messages
    ]


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
    skip_existing: bool = False,
    skipped: list[LineProblem] | None = None,
) -> Counter:
    """Check many events by the rules of ``record_event`` and add them (not committed).

    ``items`` is consumed once, as it comes; a ``LineProblem`` among them (a line that failed
    field validation) is reported with the rest. Raises ``BulkProblems`` naming every line at
    fault; the caller then rolls back. ``write=False`` checks without writing anything.
    Returns the number of events per (``group``/``instrument``, slug, type).

    An event identical to a visible one (target, participant, type, dates, provisions) is
    refused as "already recorded (event N)", or, with ``skip_existing``, left out and named
    in ``skipped``: a file can be run again.
    """
    bulk = _BulkRecorder(session, recorded_by, write)
    bulk.skip_existing = skip_existing
    bulk.skipped = skipped if skipped is not None else []
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

    __slots__ = (
        "created",
        "entity",
        "is_group",
        "member_kinds",
        "provision_numbers",
        "slug",
        "starts_on",
        "steps",
    )

    def __init__(self, entity: Group | Instrument) -> None:
        target = Target(entity)
        self.entity = entity
        self.is_group = target.is_group
        self.slug = target.slug
        self.starts_on = target.starts_on
        self.member_kinds = target.member_kinds
        self.provision_numbers = target.provision_numbers
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
        self.recorded: dict[tuple, int] = {}  # what makes an event the same → its id
        self.skip_existing = False
        self.skipped: list[LineProblem] = []
        self.problems: list[LineProblem] = []
        self.count = 0
        # Read once: today() only moves on during a write, so the limit only widens.
        self.latest_on = history.latest_effective_on()

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
        try:
            # The module's functions, looked up at each call, in the API's order: one gate.
            history.check_body(target, item.type, data, self.latest_on)
            who = self._who(data["participant"])
            history.check_admitted(target, who)
        except Problem as problem:
            self.problems.extend(line_problems(item.line, problem))
            return
        same = self.recorded.get(
            _sameness(
                key,
                who.code,
                item.type,
                data["effective_on"],
                data.get("earliest_on"),
                data.get("provisions"),
            )
        )
        if same is not None:
            message = f"already recorded (event {same})"
            if self.skip_existing:
                self.skipped.append(LineProblem(item.line, "event", message))
            else:
                hint = "; run with --skip-existing to record only what is new"
                self.problems.append(LineProblem(item.line, "event", message + hint))
            return
        self.count += 1
        step = _PendingStep(item.type, data["effective_on"], PENDING + self.count, item.line)
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
            if self.writer.changes:
                queue_deliveries(self.session, self.writer.changes)
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
                    Event.earliest_on,
                    Event.provisions,
                    Event.group_id,
                    Event.instrument_id,
                    Event.participant_id,
                    same_day_place().label("place"),
                ).where(
                    Event.participant_id.in_(ids[at : at + 1_000]), Event.retracted_at.is_(None)
                )
            )
            for row in rows:
                key = ("group", row.group_id) if row.group_id else ("instrument", row.instrument_id)
                code = code_of[row.participant_id]
                self.existing[key, code].append(
                    Step(row.type, row.effective_on, row.place, row.id, row.earliest_on)
                )
                same = _sameness(
                    key, code, row.type, row.effective_on, row.earliest_on, row.provisions
                )
                self.recorded.setdefault(same, row.id)

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


def _sameness(key, code, event_type, effective_on, earliest_on, provisions) -> tuple:
    """What makes two events the same fact (the order of provisions does not matter)."""
    numbers = None if provisions is None else tuple(sorted(provisions))
    return (key, code, event_type, effective_on, earliest_on, numbers)


def _appends(existing: list[Step], steps: list[_PendingStep]) -> bool:
    """True when the new steps come in date order, none before the last existing one."""
    last = max((s.effective_on for s in existing), default=date.min)
    for step in steps:
        if step.effective_on < last:
            return False
        last = step.effective_on
    return True
