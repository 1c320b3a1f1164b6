"""``friendsgroup serve``: the API on gunicorn."""

import click

from ..db import get_db
from ..server import run
from . import app, main, require_head


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn; refuses a database that is not at head."""
    require_head()
    get_db(app()).dispose()
    run(host, port, workers)
