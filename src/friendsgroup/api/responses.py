"""Responses in the representation the client asked for: JSON or CSV, with ETags on reports."""

import hashlib
from collections.abc import Iterable, Sequence

import orjson
from flask import Response, request, url_for

from ..tabular import CSV_MIMETYPE, csv_text


def wants_csv(format_arg: str | None = None) -> bool:
    """True when the client asked for CSV by ``?format=csv`` or ``Accept: text/csv``."""
    if format_arg is not None:
        return format_arg == "csv"
    accept = request.accept_mimetypes
    return accept[CSV_MIMETYPE] > accept["application/json"]


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response without going through a schema (the caller built ``body``)."""
    response = Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def csv_response(header: Sequence[str], rows: Iterable[Sequence], headers: dict | None = None):
    """A UTF-8 CSV response."""
    response = Response(csv_text(header, rows), mimetype=CSV_MIMETYPE)
    response.headers.update(headers or {})
    response.headers["Vary"] = "Accept"
    return response


def report_response(report: dict, rows_key: str, columns: list[str], fmt: str | None):
    """A report as JSON, or its rows as CSV; tagged so that an unchanged report answers 304."""
    if wants_csv(fmt):
        response = csv_response(columns, ([row[c] for c in columns] for row in report[rows_key]))
        basis = response.get_data()
    else:
        # The tag leaves out ``known_at``, which is "now" unless asked for: the report is the
        # same while nothing is recorded, so it is a weak tag (same meaning, not same bytes).
        rest = {name: value for name, value in report.items() if name != "known_at"}
        basis = orjson.dumps(rest)
        known_at = orjson.dumps({"known_at": report.get("known_at")})
        response = Response(known_at[:-1] + b"," + basis[1:], mimetype="application/json")
    response.set_etag(hashlib.sha256(basis).hexdigest()[:32], weak=True)
    response.headers["Vary"] = "Accept"
    return response.make_conditional(request)


def event_created(event):
    """The 201 answer for a new event, with its ``Location``."""
    return event, 201, {"Location": url_for("events.EventDetail", event_id=event.id)}
