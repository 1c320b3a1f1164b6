"""When to try a failed delivery again: exponential backoff with jitter, then give up."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Schedule:
    """Delays grow from ``base`` by doubling up to ``cap``; after ``give_up`` a delivery fails.

    The defaults retry for a little over a day (about 15 attempts) and disable an endpoint
    that has failed every attempt for two days.
    """

    base: float = 10.0
    cap: float = 6 * 3600.0
    give_up: float = 25 * 3600.0
    disable_after: float = 48 * 3600.0

    @classmethod
    def from_config(cls, config) -> "Schedule":
        return cls(
            base=float(config["WEBHOOK_BACKOFF_BASE"]),
            cap=float(config["WEBHOOK_BACKOFF_CAP"]),
            give_up=float(config["WEBHOOK_GIVE_UP_AFTER"]),
            disable_after=float(config["WEBHOOK_DISABLE_AFTER"]),
        )

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones (jitter on the top half)."""
        ceiling = min(self.cap, self.base * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def next_attempt(self, created_at: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again, or None when the delivery has been tried for long enough."""
        if (now - created_at).total_seconds() >= self.give_up:
            return None
        return now + timedelta(seconds=self.delay(attempts))
