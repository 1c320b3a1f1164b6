"""The ``friendsgroup`` command: thin click commands over the functions the API uses.

Each module of this package owns one group of commands and its printing; this one holds what
they share: the app, ``fail`` and the check that the database is at head.
"""

import importlib
import sys
from datetime import date, datetime
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import make_url

from .. import migrate
from ..db import get_db

DATE = click.DateTime(formats=["%Y-%m-%d"])


def app() -> Flask:
    """The app of ``flask --app`` (or a test runner), else a new one from the environment."""
    flask_app = _app()
    _require_database(flask_app.config["DATABASE_URL"])
    return flask_app


def _app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()
    context = click.get_current_context()
    info = context.find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    root = context.find_root()
    if "friendsgroup.app" not in root.meta:
        from .. import create_app

        # An operator's command is not a request: its statements may run as long as they need.
        one_shot = {"DB_STATEMENT_TIMEOUT": 0, "DB_IDLE_IN_TRANSACTION_TIMEOUT": 0}
        created = root.meta["friendsgroup.app"] = create_app(one_shot, serving=False)
        # A one-shot command closes its connections rather than leave them to the collector.
        root.call_on_close(lambda: get_db(created).dispose())
    return root.meta["friendsgroup.app"]


# The only command that may bring a SQLite file into being (``make serve`` runs it first).
CREATES_DATABASE = ("db", "upgrade")


def _require_database(url: str) -> None:
    """Exit 1, naming the file, when a SQLite database does not exist: connecting would
    silently create an empty registry there, and every later command would use it."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    context = click.get_current_context()
    if tuple(context.command_path.split()[-2:]) == CREATES_DATABASE:
        return
    fail(
        f"no database at {path} (DATABASE_URL): set DATABASE_URL to the registry's database; "
        "to create a new, empty registry there, run 'friendsgroup db upgrade' first"
    )


def sqlite_path(url: str) -> Path | None:
    """The absolute path of a SQLite database file (None for another database or memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def fail(message: str) -> None:
    """Exit 1 with a one-line reason on stderr."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def require_head() -> None:
    """Exit 1 unless the database is at the latest migration (nothing to work on otherwise)."""
    status = migrate.schema_status(get_db(app()).engine)
    if not status.at_head:
        fail(
            f"database at {status.current or 'base'}, code expects {status.head}: "
            "run 'friendsgroup db upgrade' first"
        )


def day(value: datetime | None) -> date | None:
    """A ``--from``/``--to``/``--as-of`` option as a date."""
    return value.date() if value else None


def instant(text: str | None, option: str = "--known-at") -> datetime | None:
    """An ISO 8601 instant option, parsed as the API parses ``known_at``."""
    if text is None:
        return None
    from marshmallow import ValidationError

    from ..schemas import Timestamp

    try:
        return Timestamp().deserialize(text)
    except ValidationError:
        raise click.BadParameter("not an ISO 8601 instant", param_hint=option) from None


# The module of each command (``db copy`` is portability's), imported when the command is
# used: one command need not wait for every other's imports. A test keeps this list true.
COMMAND_MODULES = {
    "audit": (".auditing",),
    "backup": (".portability",),
    "changes": (".following",),
    "db": (".database", ".portability"),
    "dump": (".portability",),
    "event": (".curation",),
    "import": (".data",),
    "participant": (".curation",),
    "report": (".reports",),
    "restore": (".portability",),
    "seed": (".data",),
    "serve": (".serving",),
    "token": (".tokens",),
    "webhook": (".following",),
    "worker": (".following",),
}


class CommandsOnDemand(click.Group):
    """A group whose commands register themselves when their module is first imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module in COMMAND_MODULES.get(name, ()):
            importlib.import_module(module, __name__)
        return super().get_command(ctx, name)


class FlaskCommands(AppGroup):
    """An app's ``flask`` commands, with ``main``'s found on demand as ``main`` finds them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(main.list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or main.get_command(ctx, name)


@click.group(cls=CommandsOnDemand)
def main() -> None:
    """friendsgroup: a registry of group memberships and commitments, with history."""


def register_flask_commands(flask_app: Flask) -> None:
    """The same commands under ``flask --app friendsgroup`` (and an app's test runner)."""
    commands = FlaskCommands(name=flask_app.cli.name)
    commands.commands.update(flask_app.cli.commands)
    flask_app.cli = commands
