"""The delivering worker: claim due deliveries under a lease, POST them, record each attempt.

Claims take ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers on several hosts
share the outbox without sending one delivery twice at once; on SQLite the claim runs in a
writing transaction, which the database serialises. A claim is a lease: a worker that dies
mid-delivery leaves it to be claimed again when the lease runs out (at least once).
"""

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import aliased, joinedload, lazyload

from ..db import Database
from ..errors import is_database_unavailable
from ..models import Change, Delivery, DeliveryAttempt, Event, Webhook
from ..reports.changes import change_dict
from ..timeutil import isoformat_z, utcnow
from .schedule import Schedule
from .sending import Outcome, post
from .signing import message_id, signed_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How a worker sends: timeout, lease, threads, polling, targets allowed, retry schedule."""

    timeout: float = 10.0
    lease: float = 60.0
    concurrency: int = 8
    per_endpoint: int = 4  # deliveries in flight to one webhook: a slow one holds no more
    poll: float = 0.5
    allow_private: bool = False
    schedule: Schedule = field(default_factory=Schedule)

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(
            timeout=float(config["WEBHOOK_TIMEOUT"]),
            lease=float(config["WEBHOOK_LEASE_SECONDS"]),
            concurrency=int(config["WEBHOOK_CONCURRENCY"]),
            per_endpoint=int(config["WEBHOOK_PER_ENDPOINT"]),
            poll=float(config["WEBHOOK_POLL_SECONDS"]),
            allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]),
            schedule=Schedule.from_config(config),
        )


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds until ``lease_until``, fenced by its ``token``."""

    delivery_id: int
    token: str


# The delivery, its webhook and the change with what its body shows, in one query (the
# models load each relation of a change by a query of its own, made for pages of many);
# the sources of an event or announcement follow in one more.
DELIVERY_BODY = [
    joinedload(Delivery.change).options(
        joinedload(Change.event).joinedload(Event.superseded_by),
        joinedload(Change.announcement),
        joinedload(Change.group),
        joinedload(Change.instrument),
        joinedload(Change.participant),
    )
]


def _claimable():
    """The id of the most overdue delivery nobody holds, locked (``now``, ``per_endpoint``)."""
    now = bindparam("now")
    # The webhooks that already have their share in flight, found once per claim from the
    # few leased rows: counted for each due row instead, a claim read the backlog once for
    # each of its rows.
    in_flight = aliased(Delivery)
    full = (
        select(in_flight.webhook_id)
        .where(in_flight.status == "pending", in_flight.lease_until >= now)
        .group_by(in_flight.webhook_id)
        .having(func.count() >= bindparam("per_endpoint"))
    )
    return (
        select(Delivery.id)
        .join(Webhook, Delivery.webhook_id == Webhook.id)
        .where(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            Webhook.disabled_at.is_(None),
            Delivery.webhook_id.not_in(full),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Delivery)
    )


# Built once: a worker claims in a loop, and building them cost more than running them.
CLAIMABLE = _claimable()
LEASE = (
    update(Delivery)
    .where(Delivery.id == bindparam("found"))
    .values(lease_until=bindparam("until"), leased_by=bindparam("holder"))
)


# A delivered attempt, the common case, settled in three statements and no ORM load: the
# delivery if this worker still holds it (its webhook back), the attempt, the webhook's
# failing streak ended.
_deliveries, _attempts, _webhooks = (
    Delivery.__table__,
    DeliveryAttempt.__table__,
    Webhook.__table__,
)
SETTLE_DELIVERED = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("delivery"),
        _deliveries.c.leased_by == bindparam("holder"),
        _deliveries.c.status == "pending",
    )
    .values(
        status="delivered",
        finished_at=bindparam("now"),
        attempts=_deliveries.c.attempts + 1,
        lease_until=None,
        leased_by=None,
    )
    .returning(_deliveries.c.webhook_id)
)
KEEP_ATTEMPT = insert(_attempts)
ANSWERED = (
    update(_webhooks)
    .where(_webhooks.c.id == bindparam("webhook"), _webhooks.c.failing_since.is_not(None))
    .values(failing_since=None)
)


def _attempt(claim: Claim, outcome: Outcome, at: datetime) -> dict:
    """The columns of an attempt's row."""
    return {
        "delivery_id": claim.delivery_id,
        "attempted_at": at,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
    }


def _settled_as_delivered(connection, claim: Claim, attempt: dict, now: datetime) -> bool:
    """Settle a delivered attempt this worker still holds; False when it does not hold it
    (the lease ran out, or the delivery is gone), which ``record`` then sorts out."""
    webhook_id = connection.execute(
        SETTLE_DELIVERED, {"delivery": claim.delivery_id, "holder": claim.token, "now": now}
    ).scalar_one_or_none()
    if webhook_id is None:
        return False
    connection.execute(KEEP_ATTEMPT, attempt)
    connection.execute(ANSWERED, {"webhook": webhook_id})
    return True


class Worker:
    """Delivers the outbox of one database with ``settings.concurrency`` threads."""

    def __init__(self, database: Database, settings: Settings, name: str | None = None) -> None:
        self.database = database
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"

    # --- one delivery ---

    def claim(self) -> Claim | None:
        """Lease the most overdue delivery nobody holds, or None."""
        now = utcnow()
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        with self.database.transaction() as session:
            found = session.scalar(
                CLAIMABLE, {"now": now, "per_endpoint": self.settings.per_endpoint}
            )
            if found is None:
                return None
            session.execute(
                LEASE,
                {
                    "found": found,
                    "until": now + timedelta(seconds=self.settings.lease),
                    "holder": token,
                },
            )
        return Claim(found, token)

    def deliver(self, claim: Claim) -> Outcome | None:
        """Send a claimed delivery and record the attempt; None when it no longer exists."""
        with self.database.transaction(write=False) as session:
            delivery = session.get(Delivery, claim.delivery_id, options=DELIVERY_BODY)
            if delivery is None:
                return None
            change = delivery.change
            body = orjson.dumps(
                {
                    "type": change.type,
                    "timestamp": isoformat_z(change.recorded_at),
                    "data": change_dict(change),
                }
            ).decode()
            url, secret = delivery.webhook.url, delivery.webhook.secret
        now = utcnow()
        headers = signed_headers(secret, message_id(claim.delivery_id), now, body)
        outcome = post(
            url, body.encode(), headers, self.settings.timeout, self.settings.allow_private
        )
        self.record(claim, outcome, now)
        return outcome

    def record(self, claim: Claim, outcome: Outcome, at: datetime) -> None:
        """Keep the attempt; settle the delivery if this worker still holds it."""
        now = utcnow()
        attempt = _attempt(claim, outcome, at)
        with self.database.transaction() as session:
            if outcome.ok and _settled_as_delivered(session.connection(), claim, attempt, now):
                return
            # The delivery and its webhook only: the change, with every row it eagerly loads,
            # was read to build the body and is not needed to settle the attempt.
            delivery = session.get(Delivery, claim.delivery_id, options=[lazyload(Delivery.change)])
            if delivery is None:
                return
            session.add(DeliveryAttempt(**attempt))
            # The lease ran out and another worker took it over (a delivered attempt reaching
            # here always has: one still held was settled above).
            if delivery.leased_by != claim.token or delivery.status != "pending":
                return
            delivery.attempts += 1
            delivery.lease_until = None
            delivery.leased_by = None
            retry_at = self.settings.schedule.next_attempt(
                delivery.created_at, delivery.attempts, now
            )
            if retry_at is None:
                delivery.status = "failed"
                delivery.finished_at = now
            else:
                delivery.next_attempt_at = retry_at
            self._note_failure(delivery.webhook, outcome, now)

    def _note_failure(self, webhook: Webhook, outcome: Outcome, now: datetime) -> None:
        """Disable an endpoint once every attempt has failed for ``disable_after``."""
        if webhook.failing_since is None:
            webhook.failing_since = now
            return
        failing_for = (now - webhook.failing_since).total_seconds()
        if webhook.disabled_at is None and failing_for >= self.settings.schedule.disable_after:
            webhook.disabled_at = now
            webhook.disabled_reason = (
                f"every delivery failed since {isoformat_z(webhook.failing_since)}; "
                f"last: {outcome.error}"
            )
            log.warning("webhook %s disabled: %s", webhook.id, webhook.disabled_reason)

    # --- loops ---

    def run_pending(self) -> int:
        """Deliver what is due now, one thread; the number of attempts made (tests, CLI)."""
        made = 0
        while (claim := self.claim()) is not None:
            self.deliver(claim)
            made += 1
        return made

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, with ``concurrency`` threads."""
        threads = [
            threading.Thread(target=self._loop, args=(stop,), name=f"webhooks-{n}", daemon=True)
            for n in range(self.settings.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                claim = self.claim()
                if claim is None:
                    stop.wait(self.settings.poll)
                else:
                    self.deliver(claim)
            except Exception as error:  # keep going: the leases cover what was claimed
                if is_database_unavailable(error):
                    # An outage is expected and says nothing new each time: no traceback.
                    log.warning("webhook delivery paused: database unavailable")
                else:
                    log.exception("webhook delivery failed")
                stop.wait(self.settings.poll)
