"""Responses in the representation the client asked for: JSON or CSV, with ETags on reports."""

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence

import orjson
from flask import Response, request

CSV_MIMETYPE = "text/csv"
# A spreadsheet treats a cell starting with these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(format_arg: str | None = None) -> bool:
    """True when the client asked for CSV by ``?format=csv`` or ``Accept: text/csv``."""
    if format_arg is not None:
        return format_arg == "csv"
    accept = request.accept_mimetypes
    return accept[CSV_MIMETYPE] > accept["application/json"]


def neutralise(value) -> str:
    """A CSV cell that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """CSV with a header row; every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


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
