"""Webhooks: subscriptions, signed deliveries to a real local receiver, retries, leases."""

import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as Verifier

from friendsgroup.db import get_db
from friendsgroup.models import Change, Delivery, DeliveryAttempt, Webhook
from friendsgroup.timeutil import utcnow
from friendsgroup.webhooks.schedule import Schedule
from friendsgroup.webhooks.sending import Outcome
from friendsgroup.webhooks.worker import Claim, Settings, Worker
from tests.support import (
    INSTRUMENT_BODY,
    accede,
    assert_problem,
    console_script,
    create_group,
    post,
    row_counts,
)

HOOKS = "/api/v1/webhooks"
FAST = Schedule(base=0.01, cap=0.05, give_up=3600, disable_after=3600)


class Receiver:
    """A real HTTP server on a free port that records each POST and answers as scripted."""

    def __init__(self, statuses: list[int] | None = None, hang: threading.Event | None = None):
        self.statuses = list(statuses or [])
        self.hang = hang
        self.received: list[tuple[dict, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.hang is not None:
                    receiver.hang.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        if self.hang is not None:
            self.hang.set()
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        with self.lock:
            return [headers["webhook-id"] for headers, _ in self.received]


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def private(app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True


def subscribe(client, auth, url: str, **filters) -> dict:
    response = client.post(HOOKS, json={"url": url, **filters}, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def worker(app, name: str | None = None, **overrides) -> Worker:
    settings = {"timeout": 2.0, "lease": 30.0, "concurrency": 4, "poll": 0.02}
    settings.update(allow_private=True, schedule=FAST)
    return Worker(get_db(app), Settings(**{**settings, **overrides}), name)


def until(condition, limit: float = 60.0) -> None:
    """Wait for ``condition`` (a bound on waiting, not an assertion on time)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def test_a_loopback_target_is_refused_unless_allowed(app, client, auth, session):
    before = row_counts(session)
    for url in ("http://127.0.0.1:9/hook", "http://localhost/x", "http://169.254.169.254/"):
        assert_problem(client.post(HOOKS, json={"url": url}, headers=auth), 422, field="url")
    assert_problem(client.post(HOOKS, json={"url": "ftp://x"}, headers=auth), 422, field="url")
    assert row_counts(session) == before
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert (
        client.post(HOOKS, json={"url": "http://127.0.0.1:9/hook"}, headers=auth).status_code == 201
    )


def test_the_secret_is_shown_once_and_filters_are_checked(client, auth, private):
    create_group(client, auth)
    created = subscribe(client, auth, "http://127.0.0.1:9/", groups=["friends"])
    assert created["secret"].startswith("whsec_")
    listed = client.get(HOOKS, headers=auth).get_json()["items"]
    assert [h["id"] for h in listed] == [created["id"]] and "secret" not in listed[0]
    assert client.get(HOOKS).status_code == 401
    body = {"url": "http://127.0.0.1:9/", "groups": ["nope"]}
    assert_problem(client.post(HOOKS, json=body, headers=auth), 422, field="groups")
    body = {"url": "http://127.0.0.1:9/", "types": ["event.eaten"]}
    assert_problem(client.post(HOOKS, json=body, headers=auth), 422, field="types")
    assert client.delete(f"{HOOKS}/{created['id']}", headers=auth).status_code == 204
    assert client.delete(f"{HOOKS}/{created['id']}", headers=auth).status_code == 404


def test_signed_deliveries_one_per_matching_change_none_for_a_refused_write(
    app, client, auth, private, receivers
):
    receiver = receivers()
    create_group(client, auth)
    create_group(client, auth, slug="other", name="Other")
    hook = subscribe(client, auth, receiver.url, groups=["friends"], types=["event.recorded"])
    assert accede(client, auth, "KEN", "2025-06-01").status_code == 201
    assert accede(client, auth, "KEN", "2025-07-01").status_code == 409  # rolled back
    assert accede(client, auth, "JPN", "2025-06-01", group="other").status_code == 201
    assert worker(app).run_pending() == 1
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    payload = Verifier(hook["secret"]).verify(body, headers)
    assert payload["type"] == "event.recorded"
    assert payload["data"]["participant"] == "KEN"
    deliveries = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=auth).get_json()
    (delivery,) = deliveries["items"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"][0]["status_code"] == 200


def test_each_filter_alone_and_together_queues_only_the_changes_it_names(
    client, auth, private, session
):
    for slug, name in (("friends", "Friends"), ("other", "Other"), ("setup", "Setup")):
        create_group(client, auth, slug=slug, name=name)
    assert post(client, "/instruments", INSTRUMENT_BODY, auth).status_code == 201
    # A filter names registered participants only: KEN's first accession registers it.
    assert accede(client, auth, "KEN", "2025-06-01", group="setup").status_code == 201
    hooks = {
        name: subscribe(client, auth, "http://127.0.0.1:9/", **filters)["id"]
        for name, filters in {
            "all": {},
            "group": {"groups": ["friends"]},
            "instrument": {"instruments": ["code"]},
            "participant": {"participants": ["KEN"]},
            "both": {"groups": ["other"], "participants": ["KEN"], "types": ["event.recorded"]},
        }.items()
    }
    kenya = accede(client, auth, "KEN", "2025-06-01").get_json()["id"]
    japan = accede(client, auth, "JPN", "2025-06-01", group="other").get_json()["id"]
    kenya_other = accede(client, auth, "KEN", "2025-06-01", group="other").get_json()["id"]
    commitment = {"participant": "KEN", "effective_on": "2025-06-01"}
    kenya_code = post(client, "/instruments/code/commitments", commitment, auth).get_json()["id"]
    queued = session.execute(
        select(Webhook.id, Change.event_id)
        .join(Delivery, Delivery.webhook_id == Webhook.id)
        .join(Change, Change.id == Delivery.change_id)
    ).all()
    by_hook = {name: {e for w, e in queued if w == hook} for name, hook in hooks.items()}
    assert by_hook == {
        "all": {kenya, japan, kenya_other, kenya_code},
        "group": {kenya},
        "instrument": {kenya_code},
        "participant": {kenya, kenya_other, kenya_code},
        "both": {kenya_other},
    }


def test_a_write_queues_one_delivery_per_active_webhook_and_none_for_a_disabled_one(
    app, client, auth, private, session
):
    create_group(client, auth)
    active, other, disabled = (
        subscribe(client, auth, f"http://127.0.0.1:9/{n}")["id"] for n in ("a", "b", "c")
    )
    with get_db(app).transaction() as writing:
        writing.get(Webhook, disabled).disabled_at = utcnow()
    kenya = accede(client, auth, "KEN", "2025-06-01").get_json()["id"]
    queued = session.execute(
        select(Delivery.webhook_id, Change.id, Change.event_id).join(
            Change, Change.id == Delivery.change_id
        )
    ).all()
    assert sorted(webhook for webhook, _, _ in queued) == sorted([active, other])
    assert {(change, event) for _, change, event in queued} == {
        (session.scalar(select(Change.id).where(Change.event_id == kenya)), kenya)
    }


def test_two_hundred_changes_two_workers_each_delivered_once(app, client, auth, private, receivers):
    receiver = receivers()
    create_group(client, auth)
    hook = subscribe(client, auth, receiver.url, types=["event.recorded"])
    codes = sorted({c for c in _countries()})[:200]
    for code in codes:
        assert accede(client, auth, code, "2025-06-01").status_code == 201
    stop = threading.Event()
    workers = 2 if not get_db(app).is_sqlite else 1  # one worker on SQLite
    threads = [
        threading.Thread(target=worker(app, name=f"w{n}").run, args=(stop,)) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        until(lambda: len(receiver.received) >= 200)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    verifier = Verifier(hook["secret"])
    delivered = [
        verifier.verify(body, headers)["data"]["participant"] for headers, body in receiver.received
    ]
    assert sorted(delivered) == codes
    assert len(set(receiver.ids())) == 200


def test_a_receiver_failing_three_times_gets_it_on_the_fourth_attempt(
    app, client, auth, private, receivers
):
    receiver = receivers(statuses=[500, 500, 500, 200])
    create_group(client, auth)
    hook = subscribe(client, auth, receiver.url, types=["event.recorded"])
    accede(client, auth, "KEN", "2025-06-01")
    deliverer = worker(app)
    until(lambda: deliverer.run_pending() == 0 and _status(app) == "delivered")
    assert len(receiver.received) == 4
    assert len(set(receiver.ids())) == 1  # the same message every time
    (delivery,) = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=auth).get_json()["items"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]


def test_a_delivery_gives_up_and_a_failing_endpoint_is_disabled(
    app, client, auth, private, receivers
):
    receiver = receivers(statuses=[500] * 100)
    create_group(client, auth)
    hook = subscribe(client, auth, receiver.url)
    accede(client, auth, "KEN", "2025-06-01")
    deliverer = worker(app, schedule=Schedule(base=0.01, cap=0.05, give_up=3.0, disable_after=1.0))
    until(lambda: deliverer.run_pending() == 0 and _disabled(app))
    shown = client.get(f"{HOOKS}/{hook['id']}", headers=auth).get_json()
    assert shown["disabled_at"] and "HTTP 500" in shown["disabled_reason"]
    # Re-sending one re-enables the endpoint.
    receiver.statuses = []
    (delivery, *_) = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=auth).get_json()[
        "items"
    ]
    retry = f"{HOOKS}/{hook['id']}/deliveries/{delivery['id']}/retry"
    assert client.post(retry, json={}, headers=auth).status_code == 202
    deliverer.run_pending()
    with get_db(app).transaction(write=False) as session:
        assert session.get(Delivery, delivery["id"]).status == "delivered"


def test_a_receiver_that_never_answers_does_not_block_the_others(
    app, client, auth, private, receivers
):
    stuck = receivers(hang=threading.Event())
    good = receivers()
    create_group(client, auth)
    subscribe(client, auth, stuck.url)
    subscribe(client, auth, good.url)
    for code in ("KEN", "JPN", "FRA"):
        accede(client, auth, code, "2025-06-01")
    stop = threading.Event()
    deliverer = worker(app, timeout=30.0, concurrency=2, per_endpoint=1)
    thread = threading.Thread(target=deliverer.run, args=(stop,))
    thread.start()
    try:
        until(lambda: len(good.received) == 3)
        assert not stuck.hang.is_set() and len(stuck.received) >= 1
    finally:
        stuck.hang.set()
        stop.set()
        thread.join()


def test_a_worker_killed_mid_delivery_is_followed_by_a_redelivery(
    app, client, auth, private, receivers, database_url
):
    receiver = receivers(hang=threading.Event())
    create_group(client, auth)
    hook = subscribe(client, auth, receiver.url, types=["event.recorded"])
    accede(client, auth, "KEN", "2025-06-01")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "WEBHOOK_LEASE_SECONDS": "1",
        "WEBHOOK_TIMEOUT": "30",
        "WEBHOOK_POLL_SECONDS": "0.05",
    }
    process = subprocess.Popen([console_script("friendsgroup"), "worker"], env=env)
    try:
        until(lambda: len(receiver.received) == 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    receiver.hang.set()
    deliverer = worker(app)
    until(lambda: deliverer.run_pending() == 1)
    assert receiver.ids() == [receiver.ids()[0]] * 2  # the same message, delivered again
    Verifier(hook["secret"]).verify(receiver.received[1][1], receiver.received[1][0])
    assert _status(app) == "delivered"


def test_cli_webhook_commands(app, runner, private):
    added = runner.invoke(
        args=["webhook", "add", "http://127.0.0.1:9/x", "--type", "event.recorded"]
    )
    assert added.exit_code == 0, added.output
    assert added.output.startswith("whsec_")
    listed = runner.invoke(args=["webhook", "list"])
    assert "http://127.0.0.1:9/x\ttypes=event.recorded\tactive" in listed.output
    with get_db(app).transaction(write=False) as session:
        hook_id = session.scalar(select(Webhook.id))
    assert runner.invoke(args=["webhook", "remove", str(hook_id)]).exit_code == 0
    assert runner.invoke(args=["webhook", "remove", str(hook_id)]).exit_code == 1
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    refused = runner.invoke(args=["webhook", "add", "http://127.0.0.1:9/x"])
    assert refused.exit_code == 1 and "loopback" in refused.output


def test_cli_changes_prints_the_log(client, auth, runner):
    create_group(client, auth)
    accede(client, auth, "KEN", "2025-06-01")
    result = runner.invoke(args=["changes"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and "event.recorded\tKenya joined the Friends Group" in lines[1]
    assert runner.invoke(args=["changes", "--since", "2999-01-01T00:00:00Z"]).output == ""


def _countries() -> list[str]:
    import pycountry

    return [country.alpha_3 for country in pycountry.countries]


def _status(app) -> str:
    with get_db(app).transaction(write=False) as session:
        return session.scalar(select(Delivery.status))


def _disabled(app) -> bool:
    with get_db(app).transaction(write=False) as session:
        return session.scalar(select(Webhook.disabled_at)) is not None


def test_a_claim_skips_only_the_webhooks_whose_share_is_in_flight(app, client, auth, private):
    create_group(client, auth)
    first = subscribe(client, auth, "http://127.0.0.1:9/first", types=["event.recorded"])
    second = subscribe(client, auth, "http://127.0.0.1:9/second", types=["event.recorded"])
    for code in ("KEN", "JPN", "FRA"):
        assert accede(client, auth, code, "2025-06-01").status_code == 201
    claimer = worker(app, per_endpoint=2)

    def webhook_of(claim) -> int:
        with get_db(app).transaction(write=False) as session:
            return session.get(Delivery, claim.delivery_id).webhook_id

    claimed = [claimer.claim() for _ in range(4)]
    # The oldest first; each webhook gets its two and no more, while both have more due.
    assert sorted(webhook_of(claim) for claim in claimed) == sorted([first["id"], second["id"]] * 2)
    assert len({claim.delivery_id for claim in claimed}) == 4
    assert claimer.claim() is None
    # A settled delivery frees its webhook's share: the next claim is that webhook's.
    claimer.record(claimed[0], Outcome(200, None, 1), utcnow())
    freed = claimer.claim()
    assert freed is not None and webhook_of(freed) == webhook_of(claimed[0])
    assert claimer.claim() is None


def test_an_answer_to_a_lease_since_lost_is_kept_but_settles_nothing(app, client, auth, private):
    create_group(client, auth)
    subscribe(client, auth, "http://127.0.0.1:9/hook", types=["event.recorded"])
    assert accede(client, auth, "KEN", "2025-06-01").status_code == 201
    claimer = worker(app)
    held = claimer.claim()
    lost = Claim(held.delivery_id, "another worker's lease")
    claimer.record(lost, Outcome(200, None, 1), utcnow())

    def state():
        with get_db(app).transaction(write=False) as session:
            delivery = session.get(Delivery, held.delivery_id)
            attempts = session.scalars(
                select(DeliveryAttempt.status_code).where(
                    DeliveryAttempt.delivery_id == held.delivery_id
                )
            ).all()
            return delivery.status, delivery.attempts, delivery.leased_by, attempts

    assert state() == ("pending", 0, held.token, [200])
    claimer.record(held, Outcome(200, None, 1), utcnow())
    assert state() == ("delivered", 1, None, [200, 200])
