"""Requests taken literally: unknown query parameters and non-ASCII ids refused."""

from functools import cache

from flask import current_app, request
from werkzeug.routing import IntegerConverter

from ..errors import validation_problem


class AsciiIntegerConverter(IntegerConverter):
    """``<int:…>`` of ASCII digits only (werkzeug's ``\\d`` also matches ``٣``)."""

    regex = r"[0-9]+"


def refuse_unknown_parameters() -> None:
    """422 naming the first query parameter the endpoint does not take: a guess is no answer."""
    if not request.args or request.url_rule is None:
        return
    method = "GET" if request.method == "HEAD" else request.method
    known = query_parameters(request.endpoint, method)
    if known is None:
        return
    for name in request.args:
        if name not in known:
            takes = ", ".join(sorted(known)) or "none"
            raise validation_problem(name, f"is not a parameter of this operation (takes {takes})")


@cache
def query_parameters(endpoint: str, method: str) -> frozenset[str] | None:
    """The query parameters an API operation declares; None for a view outside the API."""
    view = current_app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class else None
    if handler is None:
        return None
    names = set()
    # flask-smorest keeps each ``@blp.arguments`` schema on the handler for the document.
    for parameter in getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        names.update(field.data_key or name for name, field in schema.fields.items())
    return frozenset(names)
