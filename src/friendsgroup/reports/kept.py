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


class StampedCache:
    """The most recently used answers (rendered reports, pages), each with the stamp it is
    valid under."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[Stamp, Any]] = OrderedDict()
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
        """The kept answer while the group's stamp holds, else ``render()``, kept if every
        write stamped is visible at ``known_at`` (the answer's moment; default: now)."""
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

    def put(self, key: Hashable, stamp: Stamp, rendered: Any) -> None:
        with self.lock:
            self.entries[key] = (stamp, rendered)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def kept_in(extensions: MutableMapping, name: str) -> StampedCache:
    """The cache called ``name`` among an app's extensions, made on first use."""
    cache = extensions.get(name)
    if cache is None:
        cache = extensions.setdefault(name, StampedCache())
    return cache
