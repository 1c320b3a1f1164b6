"""Words the pages show from data (reliabilities, regions, kinds, event types, intervals).

Marked here so that extraction finds them; the templates translate them with ``_(value)``.
"""

from flask_babel import lazy_gettext as _l

WORDS = (
    _l("official"),
    _l("reported"),
    _l("unverified"),
    _l("Africa"),
    _l("Americas"),
    _l("Asia"),
    _l("Europe"),
    _l("Oceania"),
    _l("Unknown"),
    _l("country"),
    _l("region"),
    _l("organisation"),
    _l("accession"),
    _l("withdrawal"),
    _l("commitment"),
    _l("report"),
    _l("day"),
    _l("week"),
    _l("month"),
    _l("quarter"),
    _l("year"),
)
