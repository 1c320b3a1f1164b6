"""gunicorn, started from code so that ``friendsgroup serve`` needs no other command."""

from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    """A gunicorn application that builds one app per worker (no state shared across forks)."""

    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings this gunicorn release does not know (older or newer) are skipped.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from . import create_app

        return create_app()


def run(host: str, port: int, workers: int) -> None:
    """Serve until stopped."""
    Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": "-",
            # The path without its query string: a query may carry what must not be logged.
            "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
            # One control socket per user would clash between servers on one host.
            "control_socket_disable": True,
        }
    ).run()
