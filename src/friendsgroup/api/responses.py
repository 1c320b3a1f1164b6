"""Responses in the representation the client asked for: JSON or CSV, with ETags on reports."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from flask import Response, request, url_for

from ..tabular import BOM, CSV_MIMETYPE, XLSX_MIMETYPE, csv_text, xlsx_bytes

TABULAR = {"csv": CSV_MIMETYPE, "xlsx": XLSX_MIMETYPE}


def tabular_format(format_arg: str | None = None) -> str | None:
    """``csv`` or ``xlsx`` when asked for by ``?format=`` or ``Accept``; None for JSON."""
    if format_arg is not None:
        return format_arg if format_arg in TABULAR else None
    accept = request.accept_mimetypes
    best = max(TABULAR, key=lambda name: accept[TABULAR[name]])
    return best if accept[TABULAR[best]] > accept["application/json"] else None


def wants_csv(format_arg: str | None = None) -> bool:
    """True when the client asked for CSV by ``?format=csv`` or ``Accept: text/csv``."""
    return tabular_format(format_arg) == "csv"


def download_name(extension: str, as_of: str | None = None) -> str:
    """A file name for a download, from its path: ``groups-friends-members-2025-10-31.csv``."""
    stem = "-".join(part for part in request.path.removeprefix("/api/v1/").split("/") if part)
    return f"{stem}-{as_of}.{extension}" if as_of else f"{stem}.{extension}"


def tabular_response(
    header: Sequence[str],
    rows: Iterable[Sequence],
    kind: str,
    headers: dict | None = None,
    as_of: str | None = None,
) -> Response:
    """CSV (with a byte order mark when ``?bom=1``, for spreadsheets) or XLSX, as a download."""
    if kind == "xlsx":
        response = Response(xlsx_bytes(header, rows), mimetype=XLSX_MIMETYPE)
    else:
        text = csv_text(header, rows)
        bom = request.args.get("bom", "").lower() in ("1", "true")
        response = Response((BOM if bom else "") + text, mimetype=CSV_MIMETYPE)
    response.headers.update(headers or {})
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name(kind, as_of)}"'
    response.headers["Vary"] = "Accept"
    return response


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response without going through a schema (the caller built ``body``)."""
    response = Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def csv_response(header: Sequence[str], rows: Iterable[Sequence], headers: dict | None = None):
    """A UTF-8 CSV response."""
    return tabular_response(header, rows, "csv", headers)


def report_response(report: dict, rows_key: str, columns: list[str], fmt: str | None, table=None):
    """A report as JSON, or its rows as CSV or XLSX; tagged so that an unchanged one answers 304.

    ``table`` (report → header and rows) replaces the plain ``columns`` of ``rows_key``.
    """
    kind = tabular_format(fmt)
    if kind:
        if table is not None:
            header, rows = table(report)
        else:
            header, rows = columns, [[row[c] for c in columns] for row in report[rows_key]]
        response = tabular_response(header, rows, kind, as_of=report.get("as_of"))
        # XLSX bytes carry the moment they were written: the tag is over the cells instead.
        basis = (kind + csv_text(header, rows)).encode()
    else:
        return json_report_response(render_json_report(report), report.get("known_at"))
    response.set_etag(hashlib.sha256(basis).hexdigest()[:32], weak=True)
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = REPORT_CACHE_CONTROL
    return response.make_conditional(request)


# A cache in front may keep a report but must ask again each time: the report changes with
# any write, and the 304 to its tag is cheap.
REPORT_CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class RenderedReport:
    """A report's JSON but for its ``known_at``, with the tag it gives the report."""

    body: bytes  # the JSON object without ``known_at``
    etag: str


def render_json_report(report: dict) -> RenderedReport:
    """A report as JSON apart from its ``known_at``."""
    # The tag leaves out ``known_at``, which is "now" unless asked for: the report is the
    # same while nothing is recorded, so it is a weak tag (same meaning, not same bytes).
    body = orjson.dumps({name: value for name, value in report.items() if name != "known_at"})
    return RenderedReport(body, hashlib.sha256(body).hexdigest()[:32])


def json_report_response(rendered: RenderedReport, known_at: str | None) -> Response:
    """A rendered report with its ``known_at`` first; an unchanged one answers 304 to its tag."""
    known = orjson.dumps({"known_at": known_at})
    response = Response(known[:-1] + b"," + rendered.body[1:], mimetype="application/json")
    response.set_etag(rendered.etag, weak=True)
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = REPORT_CACHE_CONTROL
    return response.make_conditional(request)


def event_created(event):
    """The 201 answer for a new event, with its ``Location``."""
    return event, 201, {"Location": url_for("events.EventDetail", event_id=event.id)}
