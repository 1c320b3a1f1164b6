"""The CLI's reports: the API's figures as a terminal table, JSON or CSV."""

import json
from datetime import date, datetime

import click
from flask import Flask
from sqlalchemy import select

from .db import get_db
from .models import Group
from .reports import counts_series, members_report
from .representation import csv_text

MEMBER_COLUMNS = ["code", "name", "kind", "region", "member_since", "date_uncertain"]
POINT_COLUMNS = ["date", "count", "joined", "left", "possibly_members", "announced"]


def _group(session, slug: str) -> Group:
    group = session.scalars(select(Group).where(Group.slug == slug)).one_or_none()
    if group is None:
        raise click.ClickException(f"no group {slug!r}")
    return group


def table(header: list[str], rows: list[list]) -> str:
    """Aligned columns with a rule under the header; numbers right-aligned."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    numeric = [all(isinstance(row[i], int) for row in rows) and rows for i in range(len(header))]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def members_command(app: Flask, slug: str, as_of: date | None, known_at: datetime | None, fmt):
    """Print the members report."""
    with get_db(app).transaction(write=False) as session:
        report = members_report(session, _group(session, slug), as_of, known_at)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    rows = [[m[c] for c in MEMBER_COLUMNS] for m in report["members"]]
    if fmt == "csv":
        click.echo(csv_text(MEMBER_COLUMNS, rows), nl=False)
        return
    click.echo(f"{report['group']} on {report['as_of']} (as known at {report['known_at']})\n")
    click.echo(table(MEMBER_COLUMNS, rows))
    click.echo("")
    click.echo(
        f"Total: {report['count']} members"
        f" (+{report['possibly_members']} possibly members: uncertain join date)"
    )
    kinds = ", ".join(f"{k} {v}" for k, v in report["by_kind"].items()) or "none"
    regions = ", ".join(f"{k} {v}" for k, v in report["by_region"].items()) or "none"
    click.echo(f"By kind: {kinds}")
    click.echo(f"By region (countries): {regions}")
    announced = report["announced"]
    if announced:
        source = announced["source"] or {}
        click.echo(
            f"Announced: {announced['count']} as of {announced['as_of']}"
            f" ({source.get('reliability', 'no source')}); difference {announced['difference']:+d}"
        )
    else:
        click.echo("Announced: none on or before this date")


def counts_command(app: Flask, slug, start, end, interval, known_at, fmt):
    """Print the counts series."""
    with get_db(app).transaction(write=False) as session:
        series = counts_series(session, _group(session, slug), start, end, interval, known_at)
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
