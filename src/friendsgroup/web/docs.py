"""``/api/v1/docs``: Swagger UI over the OpenAPI document, from the files its package ships."""

from pathlib import Path

from flask import Blueprint, url_for
from swagger_ui_bundle import swagger_ui_path

from .rendering import page

SWAGGER_FILES = ["swagger-ui.css", "swagger-ui-bundle.js"]
SWAGGER_PREFIX = "swagger/"

blp = Blueprint("web_docs", __name__)


def swagger_folder() -> Path:
    """Where the installed Swagger UI keeps its files."""
    return Path(str(swagger_ui_path))


@blp.get("/api/v1/docs")
def docs():
    """Human API documentation, rendered in the browser from ``openapi.json``."""
    return page("docs.html", openapi_url=url_for("api-docs.openapi_json"))
