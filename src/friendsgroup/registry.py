"""Registering instruments and participants: the rules beyond the shape of a body."""

from .errors import validation_problem
from .models import Group, Instrument, Provision
from .participants import is_iso_country_code


def build_instrument(data: dict, group: Group | None) -> Instrument:
    """An instrument and its numbered provisions from a loaded ``InstrumentCreateSchema``."""
    fields = {name: value for name, value in data.items() if name not in ("group", "provisions")}
    provisions = [Provision(**provision) for provision in data.get("provisions") or []]
    return Instrument(**fields, group=group, provisions=provisions)


def check_registrable(data: dict) -> None:
    """Only regions and organisations are registered; countries register from ISO codes."""
    if data["kind"] == "country":
        raise validation_problem(
            "kind", "countries need no registration: use their ISO 3166-1 code in an event"
        )
    if is_iso_country_code(data["code"]):
        raise validation_problem("code", "is an ISO 3166-1 country code")
