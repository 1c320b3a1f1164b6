"""Reports not computed again while nothing they read has changed.

Each process keeps the last reports it rendered, each under the group's change stamp it was
computed after, from their second asking on. Every request for a report that may be kept
reads the stamp from the database (one small statement) and serves the kept bytes only if
it is unchanged, so a write through any worker, host or command is seen by the next request;
a report asked for the first time is computed, not kept, and reads no stamp. Only reports
"as known now" are kept: the default ``known_at``, spliced in fresh on every answer.
"""

from collections.abc import Callable
from datetime import date, datetime

from flask import Response, current_app

from ..db import get_session
from ..reports.kept import StampedCache, kept_in
from ..reports.visibility import moments
from ..timeutil import isoformat_z
from .responses import RenderedReport, json_report_response

REPORT_CACHE = "friendsgroup.report_cache"


def report_cache() -> StampedCache:
    """The current app's cache (one per app, so one per worker)."""
    return kept_in(current_app.extensions, REPORT_CACHE)


def fresh_report(
    kind: str, group, as_of: date | None, render: Callable[[date, datetime], RenderedReport]
) -> Response:
    """The group's JSON report on ``as_of`` as known now: kept bytes while the stamp holds,
    else ``render(as_of, now)``, kept if every write it was stamped after is visible to it."""
    as_of, now = moments(as_of, None)
    rendered = report_cache().answer(
        get_session(), group.id, (kind, group.id, as_of), lambda: render(as_of, now), now
    )
    return json_report_response(rendered, isoformat_z(now))
