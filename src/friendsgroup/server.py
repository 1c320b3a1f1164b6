"""gunicorn, started from code so that ``friendsgroup serve`` needs no other command."""

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .config import Config
from .keepalive import closing_unread_bodies
from .logs import AccessLogger, logconfig

# A client that stops sending mid-request frees its thread after this many seconds.
CLIENT_TIMEOUT = 10


class BoundedThreadWorker(ThreadWorker):
    """gthread whose reads from a client time out (gthread's own reads never do)."""

    def handle(self, conn):
        if not getattr(conn, "bounded", False):
            conn.bounded = True
            init = conn.init

            def init_with_timeout():
                init()
                # After handle() sets the socket blocking, before the request is parsed.
                conn.sock.settimeout(CLIENT_TIMEOUT)

            conn.init = init_with_timeout
        return super().handle(conn)

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing_unread_bodies(self.wsgi)


class Server(BaseApplication):
    """A gunicorn application that builds one app per worker (no state shared across forks)."""

    def __init__(self, options: dict, factory=None) -> None:
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings this gunicorn release does not know (older or newer) are skipped.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        if self.factory is not None:
            return self.factory()
        from . import create_app

        return create_app()


def options(host: str, port: int, workers: int) -> dict:
    """The gunicorn settings ``friendsgroup serve`` runs with (the bench's floor reuses them)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Threads, so that requests waiting on the database (each wait bounded, db.Bounds)
        # or on slow clients (CLIENT_TIMEOUT) leave others served; /healthz needs no database.
        "worker_class": "friendsgroup.server.BoundedThreadWorker",
        "threads": 16,
        "keepalive": 5,
        # A request running longer than this is stopped with its worker (none should: every
        # wait is bounded well below it).
        "timeout": 30,
        "graceful_timeout": 10,
        # The request line fits the longest cursor link; headers stay small.
        "limit_request_line": 8190,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "accesslog": "-",
        "logger_class": AccessLogger,
        "logconfig_dict": logconfig(Config().LOG_FORMAT),
        # One control socket per user would clash between servers on one host.
        "control_socket_disable": True,
    }


def run(host: str, port: int, workers: int, factory=None) -> None:
    """Serve until stopped (what ``factory`` builds, once per worker, if given); log lines in
    ``LOG_FORMAT`` (text or json)."""
    Server(options(host, port, workers), factory).run()
