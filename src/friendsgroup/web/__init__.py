"""The public registry on the web: server-rendered pages over the API's read functions."""

from pathlib import Path

from flask import Flask, request, url_for

from . import assets, docs, i18n

STATIC = Path(__file__).parent / "static"


def switch_language(lang: str) -> str:
    """This page's URL in another language."""
    values = {**(request.view_args or {}), **request.args.to_dict(), "lang": lang}
    return url_for(request.endpoint or "web.home", **values)


def init_app(app: Flask) -> None:
    """Bind the pages, their languages, their files and the API docs to the app."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    from .views import blp, unrouted_error

    i18n.init_app(app)
    files = assets.Assets()
    files.add_folder(STATIC)
    files.add_folder(docs.swagger_folder(), docs.SWAGGER_FILES, prefix=docs.SWAGGER_PREFIX)
    assets.init_app(app, files)
    app.register_blueprint(blp)
    # Outside every blueprint (no route matched): more specific than the app's HTTPException.
    app.register_error_handler(NotFound, unrouted_error)
    app.register_error_handler(MethodNotAllowed, unrouted_error)
    app.register_blueprint(docs.blp)
    app.jinja_env.globals["switch_language"] = switch_language
    # Pages stay well under 100 kB: the template's own indentation is not sent.
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
