"""The floors of P0, P1f, P1sf, P3f, P3q and P3s: the least a Flask service can do to
answer, served as ours is.

``python -m bench.floorapp --url URL [--sqlite FILE] --port N --workers N`` serves its views
through psycopg with a connection per thread, kept: an accession parses the JSON body, runs
one INSERT into a bare table and COMMIT, and answers 201 with a small JSON body; the members
on a date run P1's floor query (``floors.MEMBERS_SQL``) and answer its rows as JSON. With
``--sqlite``, ``/sqlite/groups/<slug>/members`` does the same through ``sqlite3`` on that
file with P1s's floor query and the module's default settings, read-only, as P1s's floor
does. ``/ownsql/groups/<slug>/accessions`` records an accession by the service's own
statements (``ownsql``, P3q); ``/stack/groups/<slug>/accessions`` runs P3f's INSERT through
flask-smorest, marshmallow and a SQLAlchemy session (``stackfloor``, P3s); ``/readyz``
answers a constant (P0). It runs under ``friendsgroup.server`` with the settings of
``friendsgroup serve`` (worker class, threads, workers), so the floors move with them.
"""

import argparse
import threading
from datetime import date

import psycopg
from flask import Flask, request

from friendsgroup.server import run

from . import ownsql, stackfloor
from .database import conninfo
from .floors import (
    MEMBERS_SQL,
    SQLITE_MEMBERS_SQL,
    naive_now,
    sqlite_members_params,
    sqlite_readonly,
)

TABLE = "bench_floor_http"
INSERT = (
    f"INSERT INTO {TABLE} (type, group_id, participant_id, effective_on, recorded_at,"
    " recorded_by) VALUES ('accession', %s, %s, %s, localtimestamp, 'bench') RETURNING id"
)


def prepare(url: str) -> None:
    """The bare table (the events' columns, no keys, indexes or checks) with an id of its own."""
    with psycopg.connect(conninfo(url)) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
        connection.execute(f"CREATE TABLE {TABLE} (LIKE events)")
        connection.execute(f"ALTER TABLE {TABLE} ALTER id ADD GENERATED ALWAYS AS IDENTITY")


def make_app(url: str, sqlite_file: str | None = None) -> Flask:
    """The floor's app: one connection per thread, made on first use."""
    app = Flask(__name__)
    local = threading.local()
    with psycopg.connect(conninfo(url)) as connection:
        group_id, participant_id = connection.execute(
            "SELECT (SELECT min(id) FROM groups), (SELECT min(id) FROM participants)"
        ).fetchone()

    def connection(kind: str = "writer") -> psycopg.Connection:
        kept = getattr(local, kind, None)
        if kept is None or kept.closed:
            kept = psycopg.connect(conninfo(url), autocommit=kind == "reader")
            setattr(local, kind, kept)
        return kept

    @app.post("/api/v1/groups/<slug>/accessions")
    def accession(slug: str):
        body = request.get_json()
        db = connection()
        row = db.execute(INSERT, (group_id, participant_id, body["effective_on"])).fetchone()
        db.commit()
        return {"id": row[0], "group": slug, "participant": body["participant"]}, 201

    @app.get("/api/v1/groups/<slug>/members")
    def members(slug: str):
        as_of = date.fromisoformat(request.args["as_of"])
        params = {"slug": slug, "as_of": as_of, "now": naive_now()}
        rows = connection("reader").execute(MEMBERS_SQL, params).fetchall()
        return members_answer(as_of, rows)

    ownsql.register(app, connection)
    stackfloor.register(app, url, INSERT, group_id, participant_id)

    if sqlite_file is not None:

        @app.get("/sqlite/groups/<slug>/members")
        def sqlite_members(slug: str):
            as_of = date.fromisoformat(request.args["as_of"])
            if getattr(local, "sqlite", None) is None:
                local.sqlite = sqlite_readonly(sqlite_file)
            params = sqlite_members_params(slug, as_of)
            return members_answer(
                as_of, local.sqlite.execute(SQLITE_MEMBERS_SQL, params).fetchall()
            )

    @app.get("/readyz")
    def ready():
        return {"status": "ready"}

    return app


def members_answer(as_of: date, rows: list) -> dict:
    """The members floor's answer from its statement's rows (either database's)."""
    members = [
        {"code": code, "name": name, "kind": kind, "region": region, "member_since": str(on)}
        for code, name, kind, region, on, _ in rows
    ]
    return {"as_of": as_of.isoformat(), "count": len(members), "members": members}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.floorapp", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sqlite", help="the SQLite file of P1sf's view")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    run("127.0.0.1", args.port, args.workers, factory=lambda: make_app(args.url, args.sqlite))


if __name__ == "__main__":
    main()
