"""The HAIP reference data of ``seeds/``, through the API's schemas and the same gate.

Groups, instruments and participants are loaded with the API's schemas and registered by
``registration``; what is registered already is skipped. Events and announcements are a
curated dataset: each row has a ``key``, and the fact recorded from it remembers the row as
its ``origin`` (``seeds/events.csv#fg-AUS``). Each run reconciles the rows with the registry
(``reconcile.py`` says how); the curator's decisions win, and a seed file error writes nothing.
"""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..changes import record_registered
from ..models import Group, Instrument, Participant
from ..registration import build_group, build_instrument, build_participant
from ..schemas import GroupCreateSchema, InstrumentCreateSchema, ParticipantCreateSchema
from .reconcile import RECORDED_BY, Plan, reconcile_announcements, reconcile_events
from .seedfiles import SeedError, csv_rows, json_items, load, named

__all__ = ["RECORDED_BY", "Plan", "SeedError", "Tally", "seed"]
REGISTERED = ("groups", "instruments", "participants")


@dataclass
class Tally:
    """What one kind of registered seed data came to."""

    created: int = 0
    skipped: int = 0


@dataclass
class SeedReport:
    """What a run came to: a tally per registered kind, a plan per dated kind."""

    tallies: dict[str, Tally]
    plans: dict[str, Plan]


def seed(session: Session, path: Path) -> SeedReport:
    """Reconcile every seed file in ``path`` with the registry (not committed); SeedError."""
    tallies = {kind: Tally() for kind in REGISTERED}
    seed_groups(session, path / "groups.json", tallies["groups"])
    seed_instruments(session, path / "instruments.json", tallies["instruments"])
    seed_participants(session, path / "participants.csv", tallies["participants"])
    plans = {
        "events": reconcile_events(session, path / "events.csv"),
        "announcements": reconcile_announcements(session, path / "announcements.csv"),
    }
    return SeedReport(tallies, plans)


# --- groups, instruments, participants ------------------------------------------------------


def seed_groups(session: Session, path: Path, tally: Tally) -> None:
    """The groups of ``groups.json`` not yet registered."""
    present = set(session.scalars(select(Group.slug)))
    created = []
    for number, item in enumerate(json_items(path), 1):
        data = load(GroupCreateSchema(), item, f"{path.name} item {number}")
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
    for number, item in enumerate(json_items(path), 1):
        where = f"{path.name} item {number}"
        data = load(InstrumentCreateSchema(), item, where)
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
    for line, row in csv_rows(path):
        where = f"{path.name} line {line}"
        body = {name: row[name] for name in ("code", "name", "kind") if name in row}
        if row.get("url"):
            body["url"] = row["url"]
        data = load(ParticipantCreateSchema(), body, where)
        with named(where):
            participant = build_participant(data)
        if data["code"] in present:
            tally.skipped += 1
            continue
        created.append(participant)
        session.add(participant)
        present.add(data["code"])
        tally.created += 1
    record_registered(session, created, RECORDED_BY)
