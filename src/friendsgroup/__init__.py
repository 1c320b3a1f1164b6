"""friendsgroup: a registry of who joined which multilateral group, when, on what evidence."""

from flask import Flask

from .config import Config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: configuration from the environment, then ``config`` overrides."""
    from . import db, errors, requestids
    from .api import health
    from .api import init_app as init_api
    from .web import init_app as init_web

    app = Flask(__name__)
    app.json.sort_keys = False
    app.config.update(Config().as_dict())
    app.config.update(config or {})
    db.init_app(app)
    errors.register(app)
    requestids.register(app)
    init_api(app)
    health.register(app)
    init_web(app)
    from . import feeds

    feeds.register(app)
    app.after_request(security_headers)
    from .cli import register_flask_commands

    register_flask_commands(app)
    return app


def security_headers(response):
    """Headers every response carries."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
    )
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
