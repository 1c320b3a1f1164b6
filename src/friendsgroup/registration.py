"""Registering groups, instruments, regions and organisations: the rules beyond a body's shape."""

from .errors import validation_problem
from .models import Group, Instrument, Participant, Provision
from .participants import alias_rows, is_iso_country_code


def build_group(data: dict) -> Group:
    """A group from a loaded ``GroupCreateSchema`` (its slug's uniqueness is the database's)."""
    return Group(**data)


def build_instrument(data: dict, group: Group | None) -> Instrument:
    """An instrument and its numbered provisions from a loaded ``InstrumentCreateSchema``."""
    fields = {name: value for name, value in data.items() if name not in ("group", "provisions")}
    provisions = [Provision(**provision) for provision in data.get("provisions") or []]
    return Instrument(**fields, group=group, provisions=provisions)


def build_participant(data: dict) -> Participant:
    """A region or organisation from a loaded ``ParticipantCreateSchema``.

    Only regions and organisations are registered; countries register from ISO codes.
    """
    if data["kind"] == "country":
        raise validation_problem(
            "kind", "countries need no registration: use their ISO 3166-1 code in an event"
        )
    if is_iso_country_code(data["code"]):
        raise validation_problem("code", "is an ISO 3166-1 country code")
    return Participant(**data, aliases=alias_rows(data["code"], data["name"]))
