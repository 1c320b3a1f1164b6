"""Participants: resolving codes, ISO 3166 countries and their UN M49 regions."""

import csv
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TypeVar

import pycountry
from sqlalchemy import Row, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .errors import not_found, validation_problem
from .models import Participant, ParticipantAlias

T = TypeVar("T")


@dataclass(frozen=True)
class Region:
    """A country's UN M49 region and sub-region."""

    region: str | None
    sub_region: str | None


@cache
def m49_regions() -> dict[str, Region]:
    """ISO alpha-3 → M49 region, from the table shipped in the package."""
    table = resources.files("friendsgroup") / "data" / "m49.csv"
    with table.open(encoding="utf-8") as handle:
        return {
            row["alpha3"]: Region(row["region"] or None, row["sub_region"] or None)
            for row in csv.DictReader(handle)
        }


def iso_country(code: str):
    """The ISO 3166-1 country for an alpha-2 or alpha-3 code in any case, or None."""
    code = code.upper()
    if len(code) == 2:
        return pycountry.countries.get(alpha_2=code)
    if len(code) == 3:
        return pycountry.countries.get(alpha_3=code)
    return None


def is_iso_country_code(code: str) -> bool:
    """True when the code is an ISO 3166-1 alpha-2 or alpha-3 country code."""
    return iso_country(code) is not None


def country_values(country) -> dict:
    """Column values for a country participant, named by its ISO short name."""
    region = m49_regions().get(country.alpha_3, Region(None, None))
    return {
        "code": country.alpha_3,
        "name": country.name,
        "kind": "country",
        "region": region.region,
        "sub_region": region.sub_region,
    }


# Built once (every event write looks its participant up); the locking one for writers.
PARTICIPANT_BY_CODE = select(Participant).where(Participant.code == bindparam("code"))
PARTICIPANT_BY_CODE_LOCKED = PARTICIPANT_BY_CODE.with_for_update()
# What an event's rules and answer read of its participant, as columns, not an entity.
PARTICIPANT_REF_LOCKED = PARTICIPANT_BY_CODE_LOCKED.with_only_columns(
    Participant.id, Participant.code, Participant.name, Participant.kind
)


def _stored_code(code: str) -> str:
    """The code a participant is stored under: a country's alpha-3 for any of its ISO codes."""
    code = code.upper()
    country = iso_country(code)
    return code if country is None else country.alpha_3


def find_participant(session: Session, code: str, *, lock: bool = False) -> Participant | None:
    """A registered participant by its code, or a country by any ISO code, without registering.

    ``lock`` takes the participant's row lock (PostgreSQL) in the same statement.
    """
    statement = PARTICIPANT_BY_CODE_LOCKED if lock else PARTICIPANT_BY_CODE
    return session.scalars(statement, {"code": _stored_code(code)}).one_or_none()


def find_locked_ref(session: Session, code: str) -> Row | None:
    """A registered participant's id, code, name and kind, locked as ``find_participant`` locks."""
    found = session.connection().execute(PARTICIPANT_REF_LOCKED, {"code": _stored_code(code)})
    return found.one_or_none()


def get_participant_or_404(session: Session, code: str) -> Participant:
    """A participant for a path parameter, or 404."""
    participant = find_participant(session, code)
    if participant is None:
        raise not_found("participant", code)
    return participant


def resolve_participant(
    session: Session, code: str, field: str = "participant", *, lock: bool = False
) -> Participant:
    """The participant an event names; a country is registered on first use, else 422."""
    return _resolved(session, code, field, lambda: find_participant(session, code, lock=lock))


def resolve_locked_ref(session: Session, code: str, field: str = "participant") -> Row:
    """``resolve_participant``, locked, as ``find_locked_ref``'s columns (a single write's)."""
    return _resolved(session, code, field, lambda: find_locked_ref(session, code))


def _resolved(session: Session, code: str, field: str, find: Callable[[], T | None]) -> T:
    """What ``find`` finds, after registering the country ``code`` names if it is not yet."""
    found = find()
    if found is not None:
        return found
    country = iso_country(code)
    if country is None:
        raise validation_problem(
            field, "unknown participant: not registered and not an ISO 3166-1 country code"
        )
    insert_ignoring_duplicate(session, country_values(country))
    return find()


def insert_ignoring_duplicate(session: Session, values: dict) -> None:
    """INSERT a participant and its names unless its code exists (safe when two requests race)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(Participant).values(**values).on_conflict_do_nothing().returning(Participant.id)
    ).scalar()
    if inserted is not None:
        names = standard_aliases(values["code"], values["name"])
        session.execute(
            insert(ParticipantAlias),
            [{"participant_id": inserted, **alias} for alias in names],
        )


# --- names people use -----------------------------------------------------------------------

# Names in wide use that ISO 3166 does not give (former names, short forms).
NAMES_PEOPLE_USE = {
    "TUR": [("Turkey", "former")],
    "GBR": [("UK", "common"), ("Great Britain", "common"), ("Britain", "common")],
    "USA": [("US", "common"), ("USA", "common"), ("America", "common")],
    "CZE": [("Czech Republic", "former")],
    "SWZ": [("Swaziland", "former")],
    "MKD": [("Macedonia", "former")],
    "CPV": [("Cape Verde", "former")],
    "CIV": [("Ivory Coast", "common")],
    "MMR": [("Burma", "former")],
    "NLD": [("Holland", "common")],
    "RUS": [("Russia", "common")],
    "ARE": [("UAE", "common")],
}

# Anything but a letter or a digit, in any script.
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """A search key: case folded, accents dropped, words separated by single spaces.

    The key starts with a space, so that a search may anchor at a word's start with
    ``LIKE '% word%'`` on every database alike ("Côte d'Ivoire" → " cote d ivoire").
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " " + " ".join(_NOT_ALPHANUMERIC.sub(" ", bare).split())


def standard_aliases(code: str, name: str) -> list[dict]:
    """The names a participant goes by from the start: its own, ISO's, and those in wide use."""
    names = [(name, "name")]
    country = iso_country(code) if len(code) == 3 else None
    if country is not None:
        for attribute, kind in (("common_name", "common"), ("official_name", "official")):
            if getattr(country, attribute, None):
                names.append((getattr(country, attribute), kind))
    names.extend(NAMES_PEOPLE_USE.get(code, []))
    return _distinct([{"name": n, "kind": kind, "key": fold(n)} for n, kind in names])


def _distinct(aliases: list[dict]) -> list[dict]:
    """One alias per search key, the first (most authoritative) kept."""
    seen: dict[str, dict] = {}
    for alias in aliases:
        seen.setdefault(alias["key"], alias)
    return list(seen.values())


def alias_rows(code: str, name: str) -> list[ParticipantAlias]:
    """The standard aliases as rows, for a participant built by the ORM."""
    return [ParticipantAlias(**alias) for alias in standard_aliases(code, name)]


def matching(q: str):
    """The WHERE clause of ``q``: a code that starts with it, or a name that contains it."""
    # The folded key holds letters, digits and spaces only: no LIKE wildcard to escape.
    key = fold(q).strip()
    code = Participant.code.startswith(q.strip().upper(), autoescape=True)
    if not key:
        # Punctuation alone ("%", "_") names no word: only a code could match it.
        return code
    pattern = f"%{key}%"
    names = (
        select(ParticipantAlias.id)
        .where(
            ParticipantAlias.participant_id == Participant.id, ParticipantAlias.key.like(pattern)
        )
        .exists()
    )
    return code | names


def rename(participant: Participant, name: str | None, added: list[str]) -> None:
    """Rename a participant, keeping the previous name as a former one, and add aliases."""
    by_key = {alias.key: alias for alias in participant.aliases}
    if name is not None and name != participant.name:
        previous = by_key.get(fold(participant.name))
        if previous is not None and previous.kind == "name":
            previous.kind = "former"
        participant.name = name
        current = by_key.get(fold(name))
        if current is None:
            participant.aliases.append(ParticipantAlias(name=name, kind="name", key=fold(name)))
            by_key[fold(name)] = participant.aliases[-1]
        else:
            current.kind, current.name = "name", name
    for extra in added:
        if fold(extra) not in by_key:
            participant.aliases.append(ParticipantAlias(name=extra, kind="added", key=fold(extra)))
            by_key[fold(extra)] = participant.aliases[-1]


@lru_cache(maxsize=4096)
def canonical_code(code: str) -> str:
    """The code a participant is stored under: alpha-3 for an ISO country, else upper case."""
    country = iso_country(code)
    return country.alpha_3 if country is not None else code.upper()
