"""Finding participants by name, code, or another name of the country (ISO, in any language)."""

from functools import cache

import pycountry
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Participant
from .i18n import LANGUAGES, _iso_names

MAX_RESULTS = 100


@cache
def _country_aliases() -> dict[str, tuple[str, ...]]:
    """alpha-3 → every name and code of the country in ISO 3166 and its translations."""
    aliases = {}
    for country in pycountry.countries:
        names = [country.alpha_2, country.alpha_3, country.name]
        names += [getattr(country, a, "") for a in ("official_name", "common_name")]
        names += [_iso_names(lang).gettext(country.name) for lang in LANGUAGES]
        aliases[country.alpha_3] = tuple(n.casefold() for n in names if n)
    return aliases


def search_participants(session: Session, q: str) -> list[Participant]:
    """Participants whose name or code contains ``q``, or a country known by such a name."""
    needle = q.strip().casefold()
    codes = [code for code, names in _country_aliases().items() if any(needle in n for n in names)]
    statement = (
        select(Participant)
        .where(
            or_(
                Participant.name.icontains(q.strip(), autoescape=True),
                Participant.code.icontains(q.strip(), autoescape=True),
                Participant.code.in_(codes),
            )
        )
        .order_by(Participant.name, Participant.code)
        .limit(MAX_RESULTS)
    )
    return list(session.scalars(statement))
