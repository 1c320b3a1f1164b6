"""``friendsgroup changes``, ``webhook`` and ``worker``: following the registry from a shell."""

import os
import signal
import sys
import threading
import time

import click
from sqlalchemy import select

from ..db import get_db
from ..errors import Problem, is_database_unavailable
from ..models import CHANGE_TYPES, Webhook
from ..reports.changes import START, ChangeFilter, changes_after, summary
from ..timeutil import isoformat_z
from ..webhooks.subscriptions import create_webhook, remove_webhook
from ..webhooks.worker import Settings, Worker
from . import app, fail, instant, main, require_head


@main.command()
@click.option("--since", help="only changes recorded at or after this ISO 8601 instant")
@click.option("--follow", is_flag=True, help="keep waiting for new changes")
@click.option("--interval", default=1.0, show_default=True, help="seconds between polls")
def changes(since: str | None, follow: bool, interval: float) -> None:
    """Print the change log, oldest first: id, time, type, summary."""
    require_head()
    where = ChangeFilter(since=instant(since, "--since"))
    database = get_db(app())
    after = START
    while True:
        with database.transaction(write=False) as session:
            found, after = changes_after(session, after, 500, where)
            for change in found:
                click.echo(
                    f"{change.id}\t{isoformat_z(change.recorded_at)}\t{change.type}\t"
                    f"{summary(change)}"
                )
        if len(found) == 500:
            continue
        if not follow:
            return
        sys.stdout.flush()
        time.sleep(interval)


@main.group()
def webhook() -> None:
    """Add, list and remove webhook subscriptions."""


@webhook.command("list")
def webhook_list() -> None:
    """List subscriptions: id, URL, filters, state."""
    with get_db(app()).transaction(write=False) as session:
        hooks = session.scalars(select(Webhook).order_by(Webhook.id)).all()
        for hook in hooks:
            filters = [
                f"{name}={','.join(values)}"
                for name in ("groups", "instruments", "participants", "types")
                if (values := getattr(hook, name)) is not None
            ]
            state = f"disabled: {hook.disabled_reason}" if hook.disabled_at else "active"
            click.echo(f"{hook.id}\t{hook.url}\t{' '.join(filters) or 'all'}\t{state}")
        if not hooks:
            click.echo("no webhooks; add one with 'friendsgroup webhook add URL'")


@webhook.command("add")
@click.argument("url")
@click.option("--group", "groups", multiple=True, help="only this group's changes (repeatable)")
@click.option("--instrument", "instruments", multiple=True)
@click.option("--participant", "participants", multiple=True)
@click.option("--type", "types", multiple=True, type=click.Choice(CHANGE_TYPES))
def webhook_add(url, groups, instruments, participants, types) -> None:
    """Subscribe URL to changes; prints the signing secret once."""
    data = {"url": url}
    for name, values in (
        ("groups", groups),
        ("instruments", instruments),
        ("participants", participants),
        ("types", types),
    ):
        if values:
            data[name] = list(values)
    flask_app = app()
    try:
        with get_db(flask_app).transaction() as session:
            hook, secret = create_webhook(
                session, data, "cli", flask_app.config["WEBHOOK_ALLOW_PRIVATE"]
            )
            hook_id = hook.id
    except Problem as problem:
        fail(problem.detail or problem.title)
    click.echo(secret)
    click.echo(f"webhook {hook_id} added; keep the secret above, it is not shown again", err=True)


@webhook.command("remove")
@click.argument("webhook_id", type=int)
def webhook_remove(webhook_id: int) -> None:
    """Remove a subscription and its deliveries."""
    with get_db(app()).transaction() as session:
        if not remove_webhook(session, webhook_id):
            fail(f"no webhook {webhook_id}")
    click.echo(f"webhook {webhook_id} removed")


@main.command()
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@click.option("--concurrency", type=click.IntRange(1, 256), help="threads sending at once")
@click.option("--exit-with-parent", is_flag=True, hidden=True)
def worker(once: bool, concurrency: int | None, exit_with_parent: bool) -> None:
    """Deliver webhooks until stopped (SIGTERM or Ctrl-C)."""
    _wait_for_database()
    flask_app = app()
    settings = Settings.from_config(flask_app.config)
    if concurrency:
        settings = Settings(**{**vars(settings), "concurrency": concurrency})
    deliverer = Worker(get_db(flask_app), settings)
    if once:
        click.echo(f"{deliverer.run_pending()} attempts")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if exit_with_parent:
        _watch_parent(stop)
    # With LOG_FORMAT=json every line on the shared stderr must be JSON: say it in text only.
    if flask_app.config.get("LOG_FORMAT", "text") != "json":
        click.echo(f"worker {deliverer.name}: delivering webhooks", err=True)
    deliverer.run(stop)


def _wait_for_database() -> None:
    """``require_head``, retried while the database is unreachable: a worker outlives outages."""
    while True:
        try:
            require_head()
            return
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            click.echo("worker: database unavailable; retrying in 2 s", err=True)
            get_db(app()).engine.dispose()
            time.sleep(2)


def _watch_parent(stop: threading.Event) -> None:
    """Stop when the process that started this one is gone (``serve`` was killed)."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(1):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
