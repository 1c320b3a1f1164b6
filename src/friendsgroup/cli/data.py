"""``friendsgroup seed`` and ``friendsgroup import``: many facts at once, through the same gate."""

import gc
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import psycopg
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..audit import watch
from ..db import get_db, refresh_planner_statistics
from ..ingest.files import FileProblem, import_events
from ..ingest.lines import BulkProblems
from ..ingest.seedfiles import shipped_seeds
from ..ingest.seeds import RECORDED_BY as SEED_RECORDED_BY
from ..ingest.seeds import SeedError, seed
from ..models import Participant
from . import app, fail, main, require_head
from .auditing import record_command, record_refused_command


@main.command("seed")
@click.option(
    "--path",
    type=click.Path(exists=True, file_okay=False),
    help="Directory of the seed files [default: the HAIP seeds shipped with friendsgroup].",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
def seed_command(path: str | None, dry_run: bool) -> None:
    """Reconcile the registry with the HAIP seed files; a curator's decision is never undone.

    Rows never recorded are recorded; a row changed in the files corrects the seed's own event
    when no curator touched it since; a row whose event a curator retracted or corrected is
    left alone; a changed row whose event a curator changed is listed as a conflict.
    """
    require_head()
    # Not the working directory's seeds/: the command means the same wherever it is run.
    path = path or str(shipped_seeds())
    try:
        with database_errors(), get_db(app()).transaction() as session:
            watch(session, bulk_by=SEED_RECORDED_BY)
            before = session.scalar(select(func.count()).select_from(Participant))
            report = seed(session, Path(path))
            after = session.scalar(select(func.count()).select_from(Participant))
            if dry_run:
                session.rollback()
            else:
                record_command(session, f"seed {path}")
    except SeedError as error:
        record_refused_command(f"seed {path}", "invalid-seed")
        fail(f"{error}; nothing was written")
    for kind, tally in report.tallies.items():
        click.echo(f"{kind}: {tally.created} created, {tally.skipped} skipped")
    for kind, plan in report.plans.items():
        click.echo(f"{kind}: {plan.summary()}")
        shown = [("corrected", plan.corrected), ("left alone", plan.left_alone)]
        shown += [("conflict", plan.conflicts)]
        if dry_run:
            shown.insert(0, ("new", plan.new))
        for label, lines in shown:
            for line in lines:
                click.echo(f"  {label}: {line}")
    countries = after - before - report.tallies["participants"].created
    click.echo(f"countries: {countries} registered from their ISO codes")
    if dry_run:
        click.echo("dry run: nothing was written")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every line and print what would be done.")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave out events already recorded (named on stderr) instead of refusing the file.",
)
@click.option(
    "--by",
    default="import",
    show_default=True,
    help="Who records the events: their recorded_by and the audit trail's actor.",
)
def import_command(file: str, dry_run: bool, skip_existing: bool, by: str) -> None:
    """Record the events of a CSV or JSON lines FILE, checked like the API; all or nothing.

    \b
    CSV columns (a header row; UTF-8; RFC 4180 quoting):
      group | instrument   the slug of one of them, the other empty
      type                 accession, withdrawal (group); commitment, report,
                           withdrawal (instrument)
      participant          ISO 3166-1 alpha-2/alpha-3 code, or a registered code
      effective_on         YYYY-MM-DD
      earliest_on          YYYY-MM-DD or empty: the start of an uncertain date's window
      provisions           provision numbers separated by spaces ("1 2 5"), for a
                           commitment only; empty means all provisions
      note                 free text, may be empty
      source_url, source_title, source_published_on, source_reliability
                           one source (reliability: official, reported, unverified)
    Several sources: consecutive rows identical from group to note, one source each.
    JSON lines: one API body a line, plus "group" or "instrument" and "type".

    \b
    An event identical to a visible one (same target, participant, type, dates and
    provisions) is "already recorded (event N)": the file is refused, or with
    --skip-existing that line is left out, so a file can be run again.
    """
    if not 1 <= len(by) <= 100:
        fail("--by must be 1-100 characters")
    require_head()
    action = f"import {file}"
    path = Path(file)
    started = time.monotonic()
    skipped: list = []

    def progress(rows: int) -> None:
        rate = rows / max(time.monotonic() - started, 1e-9)
        click.echo(f"  {rows:,} lines read ({rate:,.0f} lines/s)", err=True)

    try:
        with (
            database_errors(),
            get_db(app()).transaction(write=not dry_run) as session,
            _no_cycle_collection(),
        ):
            if not dry_run:
                watch(session, bulk_by=by)
            counts = import_events(
                session,
                path,
                recorded_by=by,
                dry_run=dry_run,
                progress=progress,
                skip_existing=skip_existing,
                skipped=skipped,
            )
            if dry_run:
                session.rollback()
            else:
                refresh_planner_statistics(session.connection())
                record_command(session, action, by)
    except BulkProblems as error:
        if not dry_run:
            record_refused_command(action, "invalid-lines", by)
        for problem in error.problems:
            click.echo(str(problem), err=True)
        lines = len({problem.line for problem in error.problems})
        fail(f"{lines:,} line(s) of {path} are invalid; nothing was written")
    except FileProblem as error:
        if not dry_run:
            record_refused_command(action, "invalid-file", by)
        fail(f"{path}: {error}; nothing was written")
    for line in skipped:
        click.echo(f"{line}, skipped", err=True)
    seconds = time.monotonic() - started
    total = sum(counts.values())
    verb = "would record" if dry_run else "recorded"
    click.echo(f"{verb} {total:,} events from {path} in {seconds:.1f} s:")
    for line in summary(counts):
        click.echo(line)
    if skipped:
        click.echo(f"{len(skipped):,} events already recorded, skipped")
    if dry_run:
        click.echo("dry run: nothing was written")


def summary(counts: Counter) -> list[str]:
    """One line per group or instrument and event type, then the total."""
    width = max((len(slug) for _, slug, _ in counts), default=0)
    lines = [
        f"  {kind:<10} {slug:<{width}}  {event_type:<10} {n:>9,}"
        for (kind, slug, event_type), n in sorted(counts.items())
    ]
    return [*lines, f"  {'total':<{width + 23}} {sum(counts.values()):>9,}"]


@contextmanager
def database_errors() -> Iterator[None]:
    """A database failure as a one-line reason: the transaction was rolled back."""
    try:
        yield
    except (SQLAlchemyError, psycopg.Error) as error:
        fail(f"database error ({type(error).__name__}); nothing was written")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector: it would walk the import's millions of live
    objects again and again (a third of the run) and find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
