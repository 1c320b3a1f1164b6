"""friendsgroup: a registry of who joined which multilateral group, when, on what evidence."""

from flask import Flask

from .config import Config


def create_app(config: dict | None = None, *, serving: bool = True) -> Flask:
    """Build the app: configuration from the environment, then ``config`` overrides.

    With ``serving=False``, only what a one-shot command uses: the configuration and the
    database, without the API, the pages and the feeds, whose imports a command would wait for.
    """
    from . import db, errors, requestids

    app = Flask(__name__)
    app.json.sort_keys = False
    app.config.update(Config().as_dict())
    app.config.update(config or {})
    db.init_app(app)
    errors.register(app)
    requestids.register(app)
    from .cli import register_flask_commands

    register_flask_commands(app)
    if serving:
        _serve(app)
    return app


def _serve(app: Flask) -> None:
    """The API, its health checks, the pages and the feeds."""
    from . import feeds
    from .api import health
    from .api import init_app as init_api
    from .web import init_app as init_web

    init_api(app)
    health.register(app)
    init_web(app)
    feeds.register(app)
    app.after_request(security_headers)


def security_headers(response):
    """Headers every response carries."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
    )
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
