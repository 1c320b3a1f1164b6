"""Reading the change log: pages by position, each change with its resource as it is now."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..changes import position_filter
from ..models import Change
from ..schemas import (
    AnnouncementSchema,
    EventSchema,
    GroupSchema,
    InstrumentSchema,
    ParticipantSchema,
)
from ..timeutil import isoformat_z

Position = tuple[int, int]  # (txid, id): the order changes are served in
START: Position = (0, 0)


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes to read: ids of the group, instrument, participant; a type; an instant."""

    group_id: int | None = None
    instrument_id: int | None = None
    participant_id: int | None = None
    type: str | None = None
    since: object | None = None  # an aware datetime

    def conditions(self) -> list:
        found = []
        if self.group_id is not None:
            found.append(Change.group_id == self.group_id)
        if self.instrument_id is not None:
            found.append(Change.instrument_id == self.instrument_id)
        if self.participant_id is not None:
            found.append(Change.participant_id == self.participant_id)
        if self.type is not None:
            found.append(Change.type == self.type)
        if self.since is not None:
            found.append(Change.recorded_at >= self.since)
        return found


def changes_after(
    session: Session, after: Position, limit: int, where: ChangeFilter = ChangeFilter()
) -> tuple[list[Change], Position]:
    """Up to ``limit`` changes past ``after``, oldest first, and the position to ask from next."""
    statement = (
        select(Change)
        .where(*position_filter(session, after), *where.conditions())
        .order_by(Change.txid, Change.id)
        .limit(limit)
    )
    changes = list(session.scalars(statement))
    return changes, (position(changes[-1]) if changes else after)


def latest_changes(session: Session, limit: int, where: ChangeFilter = ChangeFilter()) -> list:
    """The ``limit`` newest changes, newest first (the feeds)."""
    statement = (
        select(Change)
        .where(*position_filter(session, None), *where.conditions())
        .order_by(Change.txid.desc(), Change.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def position(change: Change) -> Position:
    """Where a change stands in the log."""
    return (change.txid, change.id)


def resource_of(change: Change):
    """The row a change is about."""
    return (
        change.event
        or change.announcement
        or (change.participant if change.type.startswith("participant.") else None)
        or (change.instrument if change.type.startswith("instrument.") else None)
        or change.group
    )


# Each built once: a page of the log, its feed or a webhook body dumps a change at a time,
# and building a schema cost more than dumping with it (as flask-smorest builds each once).
SCHEMAS = {
    "event": EventSchema(),
    "announcement": AnnouncementSchema(),
    "group": GroupSchema(),
    "instrument": InstrumentSchema(),
    "participant": ParticipantSchema(),
}


def kind_of(change: Change) -> str:
    """``event``, ``announcement``, ``group``, ``instrument`` or ``participant``."""
    return change.type.partition(".")[0]


def links_of(change: Change) -> dict[str, str]:
    """The paths of the resource's JSON and of its web page."""
    kind, resource = kind_of(change), resource_of(change)
    if kind == "event":
        json_path = f"/api/v1/events/{resource.id}"
    elif kind == "announcement":
        json_path = f"/api/v1/groups/{resource.group.slug}/announcements"
    elif kind == "participant":
        json_path = f"/api/v1/participants/{resource.code}"
    else:
        json_path = f"/api/v1/{kind}s/{resource.slug}"
    if change.participant is not None:
        page = f"/participants/{change.participant.code}"
    elif change.instrument is not None:
        page = f"/instruments/{change.instrument.slug}"
    else:
        page = f"/groups/{change.group.slug}"
    return {"json": json_path, "page": page}


def change_dict(change: Change) -> dict:
    """A change as the API, the feeds and the webhooks show it."""
    kind = kind_of(change)
    return {
        "id": change.id,
        "type": change.type,
        "recorded_at": isoformat_z(change.recorded_at),
        "recorded_by": change.recorded_by,
        "group": change.group.slug if change.group else None,
        "instrument": change.instrument.slug if change.instrument else None,
        "participant": change.participant.code if change.participant else None,
        "summary": summary(change),
        "links": links_of(change),
        "resource": SCHEMAS[kind].dump(resource_of(change)),
    }


EVENT_PHRASES = {
    ("group", "accession"): "joined",
    ("group", "withdrawal"): "left",
    ("instrument", "commitment"): "committed to",
    ("instrument", "report"): "reported on",
    ("instrument", "withdrawal"): "withdrew from",
}


def summary(change: Change) -> str:
    """One line a person reads: "Kenya joined the HAIP Friends Group on 2025-06-01 — official"."""
    kind, resource = kind_of(change), resource_of(change)
    if kind == "event":
        target = resource.group or resource.instrument
        phrase = EVENT_PHRASES["group" if resource.group else "instrument", resource.type]
        line = (
            f"{resource.participant.name} {phrase} the {target.name} "
            f"on {resource.effective_on.isoformat()} — {_evidence(resource.sources)}"
        )
        if change.type == "event.retracted":
            return f"Retracted: {line} ({resource.retraction_reason})"
        if change.type == "event.corrected":
            return f"Corrected: {line}"
        return line
    if kind == "announcement":
        return (
            f"{resource.group.name}: {resource.count} members announced as of "
            f"{resource.as_of.isoformat()} — {_evidence(resource.sources)}"
        )
    verb = change.type.partition(".")[2]
    return f"{resource.name} ({kind}) {verb}"


def _evidence(sources: list) -> str:
    """How the fact is sourced, by its most reliable source."""
    if not sources:
        return "no source"
    rank = {"official": 0, "reported": 1, "unverified": 2}
    best = min(sources, key=lambda source: rank.get(source.reliability, 3))
    return f"{best.reliability} source"
