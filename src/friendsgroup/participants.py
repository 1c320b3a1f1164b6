"""Participants: resolving codes, ISO 3166 countries and their UN M49 regions."""

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import pycountry
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .errors import not_found, validation_problem
from .models import Participant


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


def find_participant(session: Session, code: str, *, lock: bool = False) -> Participant | None:
    """A registered participant by its code, or a country by any ISO code, without registering.

    ``lock`` takes the participant's row lock (PostgreSQL) in the same statement.
    """
    code = code.upper()
    country = iso_country(code)
    if country is not None:
        code = country.alpha_3
    statement = select(Participant).where(Participant.code == code)
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


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
    participant = find_participant(session, code, lock=lock)
    if participant is not None:
        return participant
    country = iso_country(code)
    if country is None:
        raise validation_problem(
            field, "unknown participant: not registered and not an ISO 3166-1 country code"
        )
    insert_ignoring_duplicate(session, country_values(country))
    return find_participant(session, country.alpha_3, lock=lock)


def insert_ignoring_duplicate(session: Session, values: dict) -> None:
    """INSERT a participant unless its code exists (safe when two requests race)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Participant).values(**values).on_conflict_do_nothing())


@lru_cache(maxsize=4096)
def canonical_code(code: str) -> str:
    """The code a participant is stored under: alpha-3 for an ISO country, else upper case."""
    country = iso_country(code)
    return country.alpha_3 if country is not None else code.upper()
