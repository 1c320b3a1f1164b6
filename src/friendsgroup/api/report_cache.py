"""Reports not computed again while nothing they read has changed.

Each process keeps the last reports it rendered, each under the group's change stamp it was
computed after. Every request reads the stamp from the database (one small statement) and
serves the kept bytes only if it is unchanged, so a write through any worker, host or
command is seen by the next request. Only reports "as known now" are kept: the default
``known_at``, spliced in fresh on every answer.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime

from flask import Response, current_app

from ..db import get_session
from ..reports.stamps import Stamp, group_stamp
from ..reports.visibility import moments
from ..timeutil import isoformat_z
from .responses import RenderedReport, json_report_response

REPORT_CACHE = "friendsgroup.report_cache"
# Enough for every group's report on today and on the few dates pages link to; a
# rendered members report of 150 members is about 25 kB.
CACHE_SIZE = 256


class ReportCache:
    """The most recently used rendered reports, each with the stamp it is valid under."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[Stamp, RenderedReport]] = OrderedDict()
        self.lock = threading.Lock()  # a worker serves several threads
        self.hits = self.misses = 0

    def get(self, key: Hashable, stamp: Stamp) -> RenderedReport | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] != stamp:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, stamp: Stamp, rendered: RenderedReport) -> None:
        with self.lock:
            self.entries[key] = (stamp, rendered)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def report_cache() -> ReportCache:
    """The current app's cache (one per app, so one per worker)."""
    cache = current_app.extensions.get(REPORT_CACHE)
    if cache is None:
        cache = current_app.extensions.setdefault(REPORT_CACHE, ReportCache())
    return cache


def fresh_report(
    kind: str, group, as_of: date | None, render: Callable[[date, datetime], RenderedReport]
) -> Response:
    """The group's JSON report on ``as_of`` as known now: kept bytes while the stamp holds,
    else ``render(as_of, now)``, kept if every write it was stamped after is visible to it."""
    as_of, now = moments(as_of, None)
    # The stamp first: a write committed after it changes the stamp, so whatever the report
    # then sees, the entry can only be found too old, never kept too long.
    stamp = group_stamp(get_session(), group.id)
    key = (kind, group.id, as_of)
    cache = report_cache()
    rendered = cache.get(key, stamp)
    if rendered is None:
        rendered = render(as_of, now)
        if stamp.settled_by(now):
            cache.put(key, stamp, rendered)
    return json_report_response(rendered, isoformat_z(now))
