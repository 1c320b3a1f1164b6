"""``friendsgroup serve``: the API on gunicorn, and the webhook worker beside it."""

import subprocess
import sys

import click
from sqlalchemy.exc import OperationalError

from ..db import get_db, refresh_planner_statistics
from ..server import run
from . import app, main, require_head

# How long a start waits for a writer (a long import) to let the statistics be refreshed.
STATISTICS_WAIT = 1


def _refresh_statistics(database) -> None:
    """Bring the planner's statistics up to date (a registry that grew through the API was
    never analysed), unless another process keeps writing past ``STATISTICS_WAIT``: then
    serve without them rather than wait for it."""
    try:
        with database.engine.begin() as connection:
            refresh_planner_statistics(connection, wait=STATISTICS_WAIT)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        click.echo(f"note: the query planner's statistics were not refreshed ({reason})", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--webhooks/--no-webhooks", default=True, help="run the webhook worker too")
def serve(host: str, port: int, workers: int, webhooks: bool) -> None:
    """Serve the API with gunicorn; refuses a database that is not at head."""
    require_head()
    database = get_db(app())
    _refresh_statistics(database)
    database.dispose()
    # One delivering process beside the server (one is all SQLite wants), gone with it.
    deliverer = (
        subprocess.Popen([sys.executable, "-m", "friendsgroup.cli", "worker", "--exit-with-parent"])
        if webhooks
        else None
    )
    try:
        run(host, port, workers)
    finally:
        if deliverer is not None:
            deliverer.terminate()
            deliverer.wait(timeout=15)
