"""What the tests share: bodies and writers for the API, row counts and problem checks, a small
HAIP world, a real server in a subprocess and a throwaway PostgreSQL cluster."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import func, select

from friendsgroup.db import get_db
from friendsgroup.models import Base

API = "/api/v1"
GROUP = "haip-friends-group"
PARTNERS = "haip-partners-community"
INSTRUMENT = "haip-code-of-conduct"
ESTABLISHED_ON = "2024-05-02"
ADOPTED_ON = "2023-10-30"


FRIENDS = {
    "slug": "friends",
    "name": "Friends Group",
    "established_on": "2024-05-02",
    "member_kinds": ["country", "region"],
}
INSTRUMENT_BODY = {
    "slug": "code",
    "name": "Code of Conduct",
    "adopted_on": "2023-10-30",
    "provisions": [{"number": n, "title": f"Action {n}"} for n in (1, 2, 3)],
}
SOURCE = {"url": "https://example.org/press/1", "title": "Press release", "reliability": "official"}


# What a refused write still writes, by design: its audit entry and its token's last use.
BOOKKEEPING_TABLES = frozenset({"audit_entries"})
BOOKKEEPING_COLUMNS = frozenset({("api_tokens", "last_used_at")})


def registry_tables():
    """The tables of the registry, without the audit trail that records refusals too."""
    return [t for t in Base.metadata.sorted_tables if t.name not in BOOKKEEPING_TABLES]


def row_counts(session) -> dict[str, int]:
    """Rows in every table, to prove that a refused request wrote nothing."""
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in registry_tables()
    }


def create_group(client, auth, **overrides) -> dict:
    """Create a group (the Friends Group by default) and return its JSON."""
    response = client.post("/api/v1/groups", json={**FRIENDS, **overrides}, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def accede(client, auth, participant, on, group="friends", **extra):
    """POST an accession."""
    body = {"participant": participant, "effective_on": on, **extra}
    return client.post(f"/api/v1/groups/{group}/accessions", json=body, headers=auth)


def withdraw(client, auth, participant, on, group="friends", **extra):
    """POST a withdrawal."""
    body = {"participant": participant, "effective_on": on, **extra}
    return client.post(f"/api/v1/groups/{group}/withdrawals", json=body, headers=auth)


def analysed_tables(engine) -> set[str]:
    """The tables SQLite's planner has statistics of (none until an ANALYZE)."""
    with engine.connect() as connection:
        stats = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        if not connection.exec_driver_sql(stats).scalar():
            return set()
        return set(connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())


def assert_problem(response, status: int, type_: str | None = None, field: str | None = None):
    """The response is problem+json with this status, type and (optionally) field.

    ``field`` may name a nested field's parent: ``sources`` matches ``sources.0.url``.
    """
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"]
    if type_:
        assert body["type"] == f"/problems/{type_}"
    if field:
        names = list(body.get("errors") or {})
        assert any(name == field or name.startswith(f"{field}.") for name in names), names
    return body


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing was written."""
    snap = {}
    with get_db(app).transaction(write=False) as session:
        for table in registry_tables():
            columns = [c for c in table.c if (table.name, c.name) not in BOOKKEEPING_COLUMNS]
            statement = select(*columns).order_by(*table.primary_key)
            snap[table.name] = [tuple(row) for row in session.execute(statement)]
    return snap


def post(client, path: str, body, headers: dict):
    """POST a JSON body."""
    return client.post(f"{API}{path}", json=body, headers=headers)


@dataclass
class World:
    """What ``make_world`` recorded: the ids of its events."""

    accession_id: int
    commitment_id: int


def make_world(client, auth: dict) -> World:
    """Two groups, an instrument with 11 provisions, a member (KEN), a commitment (JPN)."""
    created = [
        post(
            client,
            "/groups",
            {
                "slug": GROUP,
                "name": "HAIP Friends Group",
                "established_on": ESTABLISHED_ON,
                "member_kinds": ["country", "region"],
            },
            auth,
        ),
        post(
            client,
            "/groups",
            {
                "slug": PARTNERS,
                "name": "HAIP Partners Community",
                "established_on": ESTABLISHED_ON,
                "member_kinds": ["organisation"],
            },
            auth,
        ),
        post(
            client,
            "/instruments",
            {
                "slug": INSTRUMENT,
                "name": "Hiroshima Process International Code of Conduct",
                "adopted_on": ADOPTED_ON,
                "provisions": [{"number": n, "title": f"Action {n}"} for n in range(1, 12)],
            },
            auth,
        ),
    ]
    accession = post(
        client,
        f"/groups/{GROUP}/accessions",
        {"participant": "KEN", "effective_on": "2025-06-01"},
        auth,
    )
    commitment = post(
        client,
        f"/instruments/{INSTRUMENT}/commitments",
        {"participant": "JPN", "effective_on": "2024-02-07"},
        auth,
    )
    for response in [*created, accession, commitment]:
        assert response.status_code == 201, response.get_json()
    return World(accession.get_json()["id"], commitment.get_json()["id"])


# --- a real server ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def console_script(name: str) -> str:
    """The path of a console script of this virtualenv."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name) or name


@dataclass
class Server:
    """A running ``friendsgroup serve``."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    database_url: str, log_dir: Path, workers: int = 3, env: dict | None = None
) -> Iterator[Server]:
    """``friendsgroup serve --workers N`` on a free port (``env`` added), stopped on exit."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    env = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                console_script("friendsgroup"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_ready(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or a worker still starting: not ready yet
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout} s:\n{server.log()}")


# --- a throwaway PostgreSQL cluster ------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` that has ``initdb``, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Cluster:
    """A PostgreSQL cluster of our own, in a temporary directory, reached by a unix socket.

    Tests run as root and PostgreSQL refuses to, so the cluster belongs to ``postgres``.
    """

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="fg-faults-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+psycopg://postgres@/postgres?host={self.socket_dir}&port={self.port}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        """``initdb`` with trust authentication for local connections."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        """Start the server, listening on the unix socket only."""
        options = f"-c listen_addresses='' -p {self.port} -k {self.socket_dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop the server at once (connections are cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and remove the cluster."""
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def count_calls(monkeypatch, owner, name: str) -> list[int]:
    """Replace ``owner.name`` by a wrapper that appends to the returned list on every call."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


@dataclass
class PgConn:
    socket: int


@dataclass
class StandIn:
    """What the watchdog and the pool's ping read of a psycopg connection, on a socket pair."""

    pgconn: PgConn
    closed: bool = False
    broken: bool = False
    ends: tuple = field(default=())
