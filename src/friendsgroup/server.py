"""gunicorn, started from code so that ``friendsgroup serve`` needs no other command."""

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import default_exceptions

from . import security_headers
from .config import Config
from .errors import http_exception_response
from .keepalive import closing_unread_bodies
from .logs import AccessLogger, logconfig

# A client that stops sending mid-request frees its thread after this many seconds.
CLIENT_TIMEOUT = 10
# gunicorn's largest request line: every request whose parameters the OpenAPI document admits
# fits in it, Link URLs with their cursors included (tests/test_framing.py works it out).
LIMIT_REQUEST_LINE = 8190


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
            close = conn.close

            def close_unless_closed(graceful=False):
                if conn.sock.fileno() != -1:
                    close(graceful)

            conn.close = close_unless_closed
        keep = super().handle(conn)
        if keep is False:
            # gthread closes gracefully (lingering up to 2 s for the client's unsent bytes) on
            # its main thread, which accepts and serves nothing meanwhile: a dozen clients that
            # stop mid-body would stall /healthz. The lingering is done here, on this thread.
            util.close_graceful(conn.sock)
        return keep

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing_unread_bodies(self.wsgi)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's own answers (a request line or headers over the limits, bad framing) as
        problem+json with the security headers, not as an HTML page."""
        page = ErrorPage()
        # gunicorn picks the status, logs and writes the access line; its page is caught.
        super().handle_error(req, page, addr, exc)
        if page.status is None:
            return
        try:
            util.write_nonblock(client, problem_page(page.status, self.cfg))
        except Exception:
            self.log.debug("Failed to send error message.")


class ErrorPage:
    """Stands in for the client's socket while gunicorn writes its page: keeps the status."""

    status: int | None = None

    def gettimeout(self):
        return 0.0

    def setblocking(self, flag):
        return None

    def sendall(self, data: bytes) -> None:
        # "HTTP/1.1 414 URI Too Long\r\n..."
        self.status = int(data.split(b" ", 2)[1])


# What a client is told went wrong, by status; the rest get werkzeug's description.
SERVER_DETAILS = {
    400: "the request is not valid HTTP/1.1",
    414: "the request line is over {limit_request_line} bytes",
    431: "the request has more than {limit_request_fields} header fields or one over "
    "{limit_request_field_size} bytes",
}


def problem_page(status: int, cfg) -> bytes:
    """The bytes of a problem+json answer with the security headers, closing the connection."""
    error_class = default_exceptions.get(status, default_exceptions[500])
    detail = SERVER_DETAILS.get(status)
    if detail is not None:
        detail = detail.format(
            limit_request_line=cfg.limit_request_line,
            limit_request_fields=cfg.limit_request_fields,
            limit_request_field_size=cfg.limit_request_field_size,
        )
    response = security_headers(http_exception_response(error_class(description=detail)))
    body = response.get_data()
    response.headers["Content-Length"] = str(len(body))
    lines = [f"HTTP/1.1 {response.status}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return "\r\n".join([*lines, "", ""]).encode("latin-1") + body


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
        "limit_request_line": LIMIT_REQUEST_LINE,
        # Headers stay small.
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
