"""Static files under names that carry their content hash, served with a year-long cache."""

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, current_app, url_for

# A name that changes with the content can be cached for ever: a new file is a new name.
IMMUTABLE = "public, max-age=31536000, immutable"
ASSETS = "friendsgroup.assets"


@dataclass(frozen=True)
class Asset:
    """One file and the hashed name it is served under."""

    path: Path
    hashed: str
    mimetype: str


class Assets:
    """The files of one or more folders, each under ``stem.<hash>.ext``."""

    def __init__(self) -> None:
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}

    def add_folder(self, folder: Path, names: list[str] | None = None, prefix: str = "") -> None:
        """Register the named files of ``folder`` (all of them by default)."""
        paths = [folder / name for name in names] if names else sorted(folder.iterdir())
        for path in paths:
            if not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            stem, dot, suffix = path.name.partition(".")
            hashed = f"{prefix}{stem}.{digest}{dot}{suffix}"
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            asset = Asset(path, hashed, mimetype)
            self.by_name[prefix + path.name] = asset
            self.by_hashed[hashed] = asset

    def url(self, name: str) -> str:
        """The URL of a registered file."""
        return url_for("web_assets.asset", name=self.by_name[name].hashed)


def get_assets() -> Assets:
    """The assets of the current app."""
    return current_app.extensions[ASSETS]


def serve(name: str) -> Response:
    """A hashed file, cached for a year; 404 for any other name."""
    asset = get_assets().by_hashed.get(name)
    if asset is None:
        abort(404)
    response = Response(asset.path.read_bytes(), mimetype=asset.mimetype)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_app(app: Flask, assets: Assets) -> None:
    """Serve ``assets`` under ``/assets/``."""
    from flask import Blueprint

    blueprint = Blueprint("web_assets", __name__)
    blueprint.add_url_rule("/assets/<path:name>", "asset", serve)
    app.register_blueprint(blueprint)
    app.extensions[ASSETS] = assets
    app.jinja_env.globals["asset_url"] = assets.url
