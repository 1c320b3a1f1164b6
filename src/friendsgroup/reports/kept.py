"""Answers kept per process while the change stamp they were computed under holds."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, MutableMapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..timeutil import utcnow
from .stamps import Stamp, group_stamp

# Enough for every group's report on today and on the few dates pages link to; a
# rendered members report of 150 members is about 25 kB, its page about 100 kB.
CACHE_SIZE = 256
# An answer is kept from its second asking on (as a caching proxy's "minimum uses"): a date
# asked for once, as a reader or crawler walking through the years asks, costs no stamp and
# pushes out nothing that is asked for again and again, such as the members today.
MIN_USES = 2


class StampedCache:
    """The most recently used answers (rendered reports, pages), each with the stamp it is
    valid under, and the keys asked for fewer than ``min_uses`` times so far."""

    def __init__(self, size: int = CACHE_SIZE, min_uses: int = MIN_USES) -> None:
        self.size = size
        self.min_uses = min_uses
        self.entries: OrderedDict[Hashable, tuple[Stamp, Any]] = OrderedDict()
        # Keys not kept (yet), with how often each was asked for; bounded like the entries.
        self.asked: OrderedDict[Hashable, int] = OrderedDict()
        self.lock = threading.Lock()  # a worker serves several threads
        self.hits = self.misses = 0

    def get(self, key: Hashable, stamp: Stamp) -> Any:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] != stamp:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def answer(
        self,
        session: Session,
        group_id: int,
        key: Hashable,
        render: Callable[[], Any],
        known_at: datetime | None = None,
    ) -> Any:
        """The kept answer while the group's stamp holds, else ``render()``, kept if asked for
        ``min_uses`` times and every write stamped is visible at ``known_at`` (the answer's
        moment; default: now)."""
        if not self.admits(key):
            return render()  # never kept, so it needs no stamp
        # The stamp first: a write committed after it changes the stamp, so whatever the
        # answer then sees, the entry can only be found too old, never kept too long.
        stamp = group_stamp(session, group_id)
        known_at = known_at or utcnow()
        kept = self.get(key, stamp)
        if kept is None:
            kept = render()
            if stamp.settled_by(known_at):
                self.put(key, stamp, kept)
        return kept

    def admits(self, key: Hashable) -> bool:
        """Count an asking for ``key``; True once it has been asked for ``min_uses`` times."""
        with self.lock:
            if key in self.entries:
                return True
            uses = self.asked[key] = self.asked.pop(key, 0) + 1
            while len(self.asked) > self.size:
                self.asked.popitem(last=False)
            return uses >= self.min_uses

    def put(self, key: Hashable, stamp: Stamp, rendered: Any) -> None:
        with self.lock:
            self.entries[key] = (stamp, rendered)
            self.asked.pop(key, None)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def kept_in(extensions: MutableMapping, name: str) -> StampedCache:
    """The cache called ``name`` among an app's extensions, made on first use."""
    cache = extensions.get(name)
    if cache is None:
        cache = extensions.setdefault(name, StampedCache())
    return cache
