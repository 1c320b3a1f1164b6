"""Seed rows against the registry: record what is new, never undo what a curator decided.

Each keyed row is matched with the fact recorded from it by ``origin``, then with the head of
that fact's supersession chain:

- no fact has the row's origin: the row is **new**, and recorded;
- the head is visible and says what the row says: **unchanged**;
- the head is the seed's own, untouched since, and the row changed: **corrected**, through
  ``history.correct_event``, the reason naming the file, the line and the key;
- a curator retracted or corrected the fact, and the row still says what the seed recorded:
  **left alone** (the curator's decision wins), and reported naming participant and event;
- a curator changed the fact and the row changed too: a **conflict**, listed for a person.

A database seeded before rows had keys has its seeded facts adopted once: the seed's own
original event of the same target, type and participant is given the row's origin.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Problem
from ..history import correct_event, record_announcement
from ..models import Announcement, Event, Group
from ..participants import canonical_code
from ..schemas import AnnouncementCreateSchema
from .bulk import record_events_bulk
from .files import EventReader, FileProblem
from .lines import BulkProblems, LineProblem, NewEvent
from .seedfiles import SeedError, csv_rows, integer, load, named

RECORDED_BY = "seed"


def origin_prefix(path: Path) -> str:
    """The origin of a seed file's rows, by its name alone: a copied folder is the same data."""
    return f"seeds/{path.name}#"


@dataclass
class Plan:
    """What a run does with the rows of one file, one line of text per row that is not unchanged."""

    new: list[str] = field(default_factory=list)
    unchanged: int = 0
    corrected: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.new)} new, {self.unchanged} unchanged, {len(self.corrected)} corrected, "
            f"{len(self.left_alone)} left alone, {len(self.conflicts)} conflicts"
        )


# --- events -------------------------------------------------------------------------------------


def reconcile_events(session: Session, path: Path) -> Plan:
    """Reconcile ``events.csv`` with the registry (not committed); raises SeedError."""
    prefix = origin_prefix(path)
    try:
        items = list(EventReader(session, origin_prefix=prefix).read(path))
    except FileProblem as error:
        raise SeedError(f"{path.name}: {error}") from None
    problems = [item for item in items if isinstance(item, LineProblem)]
    if problems:
        raise _bulk_error(path, problems)
    plan = Plan()
    chains = _chains(session, prefix)
    legacy: dict[tuple, list[Event]] | None = None
    new: list[NewEvent] = []
    for item in items:
        chain = chains.get(item.data["origin"])
        if chain is None:
            legacy = _legacy_events(session) if legacy is None else legacy
            chain = _adopt(legacy, item)
        if chain is None:
            new.append(item)
        else:
            _reconcile_event(session, path, item, chain, plan)
    _record_new(session, path, new, plan)
    return plan


def _bulk_error(path: Path, problems: list[LineProblem]) -> SeedError:
    problems = sorted(problems, key=lambda p: p.line)
    more = len(problems) - 1
    return SeedError(f"{path.name} {problems[0]}" + (f" (and {more} more)" if more else ""))


def _chain(event: Event) -> list[Event]:
    """The event and the corrections that followed it, oldest first."""
    chain = [event]
    while chain[-1].superseded_by is not None:
        chain.append(chain[-1].superseded_by)
    return chain


def _chains(session: Session, prefix: str) -> dict[str, list[Event]]:
    """Each origin of the file's rows → the supersession chain of the fact recorded from it."""
    roots = session.scalars(
        select(Event)
        .where(Event.origin.startswith(prefix, autoescape=True), Event.supersedes_id.is_(None))
        .order_by(Event.id)
    )
    chains: dict[str, list[Event]] = {}
    for root in roots:
        chain = _chain(root)
        # Two roots of one origin (a database the old seeder re-seeded): the visible one counts.
        if root.origin not in chains or chain[-1].retracted_at is None:
            chains[root.origin] = chain
    return chains


def _identity(target, event_type: str, code: str) -> tuple:
    kind = "group" if isinstance(target, Group) else "instrument"
    return (kind, target.id, event_type, code)


def _event_identity(event: Event) -> tuple:
    return _identity(event.group or event.instrument, event.type, event.participant.code)


def _item_identity(item: NewEvent) -> tuple:
    return _identity(item.target, item.type, canonical_code(item.data["participant"]))


def _legacy_events(session: Session) -> dict[tuple, list[Event]]:
    """The seed's own original events that have no origin (recorded before rows had keys)."""
    found: dict[tuple, list[Event]] = defaultdict(list)
    rows = session.scalars(
        select(Event)
        .where(
            Event.origin.is_(None),
            Event.recorded_by == RECORDED_BY,
            Event.supersedes_id.is_(None),
        )
        .order_by(Event.id)
    )
    for event in rows:
        found[_event_identity(event)].append(event)
    return found


def _adopt(legacy: dict[tuple, list[Event]], item: NewEvent) -> list[Event] | None:
    """The chain of a legacy event of the row, given the row's origin once; None if none."""
    candidates = legacy.get(_item_identity(item))
    if not candidates:
        return None
    # Prefer the event recorded on the row's dates, then one still visible at its head.
    candidates.sort(
        key=lambda e: (
            e.effective_on != item.data["effective_on"],
            _chain(e)[-1].retracted_at is not None,
            e.id,
        )
    )
    event = candidates.pop(0)
    # Bookkeeping, not a fact: the seed's own event learns which row it came from.
    event.origin = item.data["origin"]
    return _chain(event)


def _sources(sources) -> tuple:
    def get(source, name):
        return source.get(name) if isinstance(source, dict) else getattr(source, name)

    names = ("url", "title", "publisher", "published_on", "reliability")
    return tuple(tuple(get(s, name) for name in names) for s in sources or [])


def _item_content(item: NewEvent) -> tuple:
    data = item.data
    return (
        data["effective_on"],
        data.get("earliest_on"),
        tuple(data["provisions"]) if data.get("provisions") is not None else None,
        data.get("note"),
        _sources(data.get("sources")),
    )


def _event_content(event: Event) -> tuple:
    return (
        event.effective_on,
        event.earliest_on,
        tuple(event.provisions) if event.provisions is not None else None,
        event.note,
        _sources(event.sources),
    )


def _describe(event: Event) -> str:
    target = (event.group or event.instrument).slug
    return f"event {event.id} ({event.type} of {event.participant.code} to {target})"


def _where(path: Path, item: NewEvent) -> str:
    return f"{path.name} line {item.line} (key {item.data['origin'].partition('#')[2]})"


def _curator_action(chain: list[Event]) -> str:
    """What a curator did to the seeded fact, in words."""
    head = chain[-1]
    if head.retracted_at is not None:
        return (
            f"{_describe(head)} was retracted at {head.retracted_at.isoformat()} "
            f"({head.retraction_reason})"
        )
    original = next(e for e in reversed(chain) if e.recorded_by == RECORDED_BY)
    return (
        f"{_describe(original)} was corrected by {head.recorded_by} at "
        f"{head.recorded_at.isoformat()} (now event {head.id})"
    )


def _reconcile_event(
    session: Session, path: Path, item: NewEvent, chain: list[Event], plan: Plan
) -> None:
    head = chain[-1]
    where = _where(path, item)
    content = _item_content(item)
    if _event_identity(head) != _item_identity(item):
        plan.conflicts.append(
            f"{where}: its target, type or participant differs from {_describe(head)}; a "
            "correction keeps those: retract the event and give the row a new key"
        )
        return
    visible = head.retracted_at is None
    if visible and _event_content(head) == content:
        plan.unchanged += 1
        return
    if visible and head.recorded_by == RECORDED_BY:
        _correct(session, where, item, head, plan)
        return
    seeded = [e for e in chain if e.recorded_by == RECORDED_BY]
    if seeded and _event_content(seeded[-1]) == content:
        plan.left_alone.append(f"{_curator_action(chain)}; {where} left alone")
    else:
        plan.conflicts.append(
            f"{_curator_action(chain)}, and {where} changed since the seed recorded it: "
            "not applied; correct the event or the row by hand"
        )


def _correct(session: Session, where: str, item: NewEvent, head: Event, plan: Plan) -> None:
    """The row's content as a correction of the seed's own event (every field given)."""
    data = item.data
    changes = {
        "reason": f"seed file changed: {where}",
        "effective_on": data["effective_on"],
        "earliest_on": data.get("earliest_on"),
        "provisions": data.get("provisions"),
        "note": data.get("note"),
        "sources": data.get("sources") or [],
    }
    try:
        with session.begin_nested():
            replacement = correct_event(session, head, changes, RECORDED_BY)
    except Problem as problem:
        # The rest of the history (a curator's events) does not allow it: a person decides.
        plan.conflicts.append(
            f"{where} changed, but its correction of {_describe(head)} is refused: {problem.detail}"
        )
        return
    plan.corrected.append(f"{_describe(head)} corrected as event {replacement.id}: {where}")


def _record_new(session: Session, path: Path, new: list[NewEvent], plan: Plan) -> None:
    """Record the new rows; a row refused because of a curator's events is a conflict."""
    while new:
        try:
            with session.begin_nested():
                record_events_bulk(session, new, RECORDED_BY)
        except BulkProblems as error:
            refused = {problem.line: problem for problem in error.problems}
            curated = {
                item.line
                for item in new
                if item.line in refused and _curated_timeline(session, item)
            }
            if curated != set(refused):
                raise _bulk_error(
                    path, [p for p in error.problems if p.line not in curated]
                ) from None
            for item in new:
                if item.line in curated:
                    plan.conflicts.append(
                        f"{_where(path, item)} is new, but refused beside a curator's events: "
                        f"{refused[item.line].message}"
                    )
            new = [item for item in new if item.line not in curated]
            continue
        for item in new:
            target = item.target.slug
            plan.new.append(
                f"{item.type} of {canonical_code(item.data['participant'])} to {target}: "
                f"{_where(path, item)}"
            )
        return


def _curated_timeline(session: Session, item: NewEvent) -> bool:
    """True when the row's participant has visible events in its target not from the seeds."""
    target = item.target
    column = Event.group_id if isinstance(target, Group) else Event.instrument_id
    events = session.scalars(
        select(Event).where(column == target.id, Event.retracted_at.is_(None))
    ).all()
    code = canonical_code(item.data["participant"])
    return any(
        e.participant.code == code and (e.origin is None or e.recorded_by != RECORDED_BY)
        for e in events
    )


# --- announcements ------------------------------------------------------------------------------


def reconcile_announcements(session: Session, path: Path) -> Plan:
    """Reconcile ``announcements.csv``: new rows recorded, recorded ones never changed here."""
    prefix = origin_prefix(path)
    groups = {group.slug: group for group in session.scalars(select(Group))}
    recorded = {
        a.origin: a
        for a in session.scalars(
            select(Announcement).where(Announcement.origin.startswith(prefix, autoescape=True))
        )
    }
    legacy = {
        _announcement_identity(a.group_id, a.as_of, a.count, a.source.url if a.source else None): a
        for a in session.scalars(
            select(Announcement).where(
                Announcement.origin.is_(None), Announcement.recorded_by == RECORDED_BY
            )
        )
    }
    plan = Plan()
    seen: dict[str, int] = {}
    for line, row in csv_rows(path):
        where = f"{path.name} line {line}"
        key = row.get("key", "")
        if not key or key in seen:
            message = f"repeats the key of line {seen[key]}" if key else "is empty"
            raise SeedError(f"{where}: key: {message}")
        seen[key] = line
        where = f"{where} (key {key})"
        group = groups.get(row.get("group", ""))
        if group is None:
            raise SeedError(f"{where}: group: no group {row.get('group')!r}")
        data = load(AnnouncementCreateSchema(), _announcement_body(row), where)
        data["origin"] = prefix + key
        identity = _announcement_identity(
            group.id, data["as_of"], data["count"], data["source"]["url"]
        )
        existing = recorded.get(data["origin"])
        if existing is None and identity in legacy:
            existing = legacy.pop(identity)
            existing.origin = data["origin"]  # bookkeeping, as for events
        if existing is None:
            with named(where):
                announcement = record_announcement(session, group, data, RECORDED_BY)
            plan.new.append(f"{data['count']} as of {data['as_of']} for {group.slug}: {where}")
            recorded[announcement.origin] = announcement
        elif _announcement_content(existing) == _announcement_content_of(group, data):
            plan.unchanged += 1
        else:
            plan.conflicts.append(
                f"{where} differs from announcement {existing.id} as recorded: not applied; "
                "the seeder does not change a recorded announcement"
            )
    session.flush()
    return plan


def _announcement_identity(group_id: int, as_of, count: int, url: str | None) -> tuple:
    return (group_id, as_of, count, url)


_SOURCE_FIELDS = ("url", "title", "published_on", "reliability")


def _announcement_content(announcement: Announcement) -> tuple:
    source = announcement.source
    cells: Callable = (lambda name: getattr(source, name)) if source else (lambda name: None)
    return (
        announcement.group_id,
        announcement.as_of,
        announcement.count,
        announcement.note,
        tuple(cells(name) for name in _SOURCE_FIELDS),
    )


def _announcement_content_of(group: Group, data: dict) -> tuple:
    source = data["source"]
    return (
        group.id,
        data["as_of"],
        data["count"],
        data.get("note"),
        tuple(source.get(name) for name in _SOURCE_FIELDS),
    )


def _announcement_body(row: dict[str, str]) -> dict:
    """The API's announcement body from a row of ``announcements.csv``."""
    source = {
        name: row[f"source_{name}"]
        for name in ("url", "title", "published_on", "reliability")
        if row.get(f"source_{name}")
    }
    body = {
        "as_of": row.get("as_of", ""),
        "count": integer(row.get("count", "")),
        "source": source,
        "note": row.get("note") or None,
    }
    # A bound ("at_least" for "more than 60") goes to the schema, which takes it or names it.
    if row.get("bound"):
        body["bound"] = row["bound"]
    return body
