"""``friendsgroup audit``: read the audit trail; and how the other commands write to it."""

import getpass
import uuid

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import audit
from ..db import get_db
from ..models import AuditEntry
from ..timeutil import isoformat_z
from . import app, instant, main

# --- the entries of CLI writes --------------------------------------------------------------


def command_id() -> str:
    """The id of this invocation, like a request id: one per command run."""
    meta = click.get_current_context().find_root().meta
    return meta.setdefault("friendsgroup.command_id", uuid.uuid4().hex)


def actor(by: str | None = None) -> str:
    """Who runs the command: ``--by`` when given, else the operating system's user."""
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def record_command(session: Session, action: str, by: str | None = None, rows=None) -> None:
    """Add the entry of a CLI write to its own transaction."""
    audit.record(session, by=actor(by), action=action, request_id=command_id(), rows=rows)


def record_refused_command(action: str, problem: str, by: str | None = None) -> None:
    """Write the entry of a CLI write that was refused, in a transaction of its own."""
    try:
        with get_db(app()).transaction() as session:
            audit.record(
                session,
                by=actor(by),
                action=action,
                outcome="refused",
                problem=problem,
                request_id=command_id(),
            )
    except SQLAlchemyError as error:
        click.echo(f"warning: the refusal was not audited ({type(error).__name__})", err=True)


# --- friendsgroup audit ---------------------------------------------------------------------


def _describe(entry: AuditEntry) -> str:
    outcome = entry.outcome if entry.status is None else f"{entry.outcome} {entry.status}"
    if entry.problem:
        outcome += f" {entry.problem}"
    named = "; ".join(
        f"{verb} {table} " + ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
        for verb, tables in (entry.rows or {}).items()
        for table, runs in tables.items()
    )
    cells = [
        isoformat_z(entry.at),
        entry.by or "-",
        entry.request_id or "-",
        entry.action,
        outcome,
        named or "-",
    ]
    return "\t".join(cells)


@main.command("audit")
@click.option("--since", help="Entries at or after this ISO 8601 instant.")
@click.option("--until", help="Entries before this ISO 8601 instant.")
@click.option("--by", help="Entries of this token name or --by name.")
@click.option("--outcome", type=click.Choice(audit.OUTCOMES))
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
def audit_command(since, until, by, outcome, limit) -> None:
    """Print the audit trail, oldest first: when, who, request id, action, outcome, rows."""
    statement = (
        audit.entries(by, instant(since, "--since"), instant(until, "--until"), outcome)
        .order_by(AuditEntry.id)
        .limit(limit)
    )
    with get_db(app()).transaction(write=False) as session:
        found = session.scalars(statement).all()
        for entry in found:
            click.echo(_describe(entry))
    if not found:
        click.echo("no audit entries match", err=True)
