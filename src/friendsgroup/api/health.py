"""``/healthz`` (the process is alive) and ``/readyz`` (the database is usable and current)."""

from flask import Flask, jsonify

from ..db import get_db
from ..errors import is_database_unavailable, problem_response, service_unavailable, unavailable
from ..migrate import schema_status


def register(app: Flask) -> None:
    """Add the two probes."""

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        try:
            status = schema_status(get_db().engine)
        except Exception as error:
            if is_database_unavailable(error):
                return service_unavailable()
            raise
        if not status.at_head:
            detail = (
                f"database at {status.current or 'no revision'}, code expects {status.head}; "
                "run 'friendsgroup db upgrade'"
            )
            return problem_response(
                unavailable(detail, "schema-not-current", "Schema not current", retry_after=30)
            )
        return jsonify(status="ready", revision=status.current)
