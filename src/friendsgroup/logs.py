"""Log lines for people (``LOG_FORMAT=text``) or machines (``json``), each with its request id.

Nothing here writes a token, a secret or a body: the access line names the path and the query
with ``access_token`` blanked, never a header or a payload.
"""

import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from gunicorn.glogging import Logger

from . import requestids

LOG_FORMATS = ("text", "json")
# The fields of an access line, beside the message, in the order a JSON line gives them.
ACCESS_FIELDS = ("remote", "method", "path", "query", "status", "bytes", "duration_ms")
TEXT_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] [%(request_id)s] %(message)s"
REDACTED = "[redacted]"


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request it was logged in (``-`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = requestids.current() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, access fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: an exception's message and traceback can carry data and SQL.
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def redact_query(query: str) -> str:
    """The query string with any ``access_token`` value blanked."""
    if "access_token" not in query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if k == "access_token" else v) for k, v in pairs])


class AccessLogger(Logger):
    """gunicorn's logger with an access line of our own: redacted, with the request id."""

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        fields = {
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": environ.get("PATH_INFO", ""),
            "query": redact_query(environ.get("QUERY_STRING", "")),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        target = fields["path"] + (f"?{fields['query']}" if fields["query"] else "")
        message = (
            f'{fields["remote"]} "{fields["method"]} {target}" {fields["status"]} '
            f"{fields['bytes'] or 0} {fields['duration_ms']}ms"
        )
        request_id = headers.get(requestids.HEADER.lower(), "-")
        try:
            self.access_log.info(message, extra={**fields, "request_id": request_id})
        except Exception:
            self.exception("cannot write the access line")


def logconfig(log_format: str) -> dict:
    """gunicorn's ``logconfig_dict``: every logger through one handler, in ``log_format``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%d %H:%M:%S %z"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "line",
        "filters": ["request_id"],
        "stream": "ext://sys.stdout",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"line": formatter},
        "handlers": {"line": handler},
        "root": {"level": "INFO", "handlers": ["line"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["line"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["line"], "propagate": False},
            # /readyz asks Alembic for the schema's revision: its notes are not the server's.
            "alembic": {"level": "WARNING"},
        },
    }
