"""``friendsgroup report``: the API's reports as a terminal table, JSON or CSV."""

import json

import click
from sqlalchemy import select

from ..db import get_db
from ..models import Group
from ..reports.members import members_report
from ..reports.schemas import CountPointSchema, MemberSchema, PossibleMemberSchema
from ..reports.series import counts_series
from ..reports.tables import member_table
from ..tabular import columns_of, csv_text, table
from ..timeutil import INTERVALS
from . import DATE, app, day, instant, main

MEMBER_COLUMNS = columns_of(MemberSchema)
POSSIBLE_COLUMNS = columns_of(PossibleMemberSchema)
POINT_COLUMNS = columns_of(CountPointSchema)


@main.group()
def report() -> None:
    """Members and counts of a group, as in the API's reports."""


FORMAT = click.Choice(["table", "json", "csv"])
# An announced total as a source states it: "at least 60", "about 50".
BOUND_WORDS = {"exact": "", "at_least": "at least ", "at_most": "at most ", "about": "about "}


@report.command("members")
@click.argument("group")
@click.option("--as-of", type=DATE, help="Date of the report (default today).")
@click.option("--known-at", help="What the registry knew at this instant (ISO 8601).")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
@click.option(
    "--rows",
    type=click.Choice(["members", "possible_members"]),
    default="members",
    show_default=True,
    help="The rows of --format csv: the members or those possibly members.",
)
def report_members(group: str, as_of, known_at: str | None, fmt: str, rows: str) -> None:
    """Members of GROUP on a date, and those possibly members (uncertain join date)."""
    with get_db(app()).transaction(write=False) as session:
        report = members_report(
            session, _group(session, group), day(as_of), instant(known_at), fmt == "csv"
        )
    print_members(report, fmt, rows)


@report.command("counts")
@click.argument("group")
@click.option("--from", "start", type=DATE, help="First day (default the group's start).")
@click.option("--to", "end", type=DATE, help="Last day (default today).")
@click.option(
    "--interval",
    type=click.Choice(INTERVALS),
    default="month",
    show_default=True,
)
@click.option("--known-at", help="What the registry knew at this instant (ISO 8601).")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
def report_counts(group, start, end, interval, known_at, fmt) -> None:
    """Counts of GROUP over time."""
    with get_db(app()).transaction(write=False) as session:
        series = counts_series(
            session, _group(session, group), day(start), day(end), interval, instant(known_at)
        )
    print_counts(series, interval, fmt)


def _group(session, slug: str) -> Group:
    group = session.scalars(select(Group).where(Group.slug == slug)).one_or_none()
    if group is None:
        raise click.ClickException(f"no group {slug!r}")
    return group


def print_members(report: dict, fmt: str, rows_of: str = "members") -> None:
    """Print the members report as JSON, CSV or a table with its totals."""
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    possible = [[p[c] for c in POSSIBLE_COLUMNS] for p in report["possible_members"]]
    if fmt == "csv":
        if rows_of == "possible_members":
            click.echo(csv_text(POSSIBLE_COLUMNS, possible), nl=False)
        else:
            click.echo(csv_text(*member_table(report)), nl=False)
        return
    rows = [[m[c] for c in MEMBER_COLUMNS] for m in report["members"]]
    click.echo(f"{report['group']} on {report['as_of']} (as known at {report['known_at']})\n")
    click.echo(table(MEMBER_COLUMNS, rows))
    click.echo("")
    click.echo(
        f"Total: {report['count']} members"
        f" (+{report['possibly_members']} possibly members: uncertain join date)"
    )
    if possible:
        click.echo("\nPossibly members (inside an uncertain join window):\n")
        click.echo(table(POSSIBLE_COLUMNS, possible))
        click.echo("")
    kinds = ", ".join(f"{k} {v}" for k, v in report["by_kind"].items()) or "none"
    regions = ", ".join(f"{k} {v}" for k, v in report["by_region"].items()) or "none"
    click.echo(f"By kind: {kinds}")
    click.echo(f"By region (countries): {regions}")
    announced = report["announced"]
    if announced:
        source = announced["source"] or {}
        bound = BOUND_WORDS.get(announced.get("bound", "exact"), "")
        click.echo(
            f"Announced: {bound}{announced['count']} as of {announced['as_of']}"
            f" ({source.get('reliability', 'no source')}); difference {announced['difference']:+d}"
        )
    else:
        click.echo("Announced: none on or before this date")


def print_counts(series: dict, interval: str, fmt: str) -> None:
    """Print the counts series as JSON, CSV or a table with its totals."""
    if fmt == "json":
        click.echo(json.dumps(series, indent=2, ensure_ascii=False))
        return
    rows = [[p[c] for c in POINT_COLUMNS] for p in series["points"]]
    if fmt == "csv":
        click.echo(csv_text(POINT_COLUMNS, rows), nl=False)
        return
    click.echo(
        f"{series['group']} by {interval}, {series['from']} to {series['to']}"
        f" (as known at {series['known_at']})\n"
    )
    click.echo(table(POINT_COLUMNS, rows))
    points = series["points"]
    if points:
        click.echo("")
        click.echo(
            f"Total: {len(points)} points; {sum(p['joined'] for p in points)} joined, "
            f"{sum(p['left'] for p in points)} left; "
            f"{points[-1]['count']} members on {points[-1]['date']}"
        )
