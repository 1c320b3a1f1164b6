"""The ``/api/v1`` API: flask-smorest with problem+json errors."""

import http

from apispec import BasePlugin
from flask import Flask, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from marshmallow import fields

from ..db import SAFE_METHODS
from ..errors import PROBLEM_JSON, not_found
from ..schemas import BaseSchema
from ..tabular import CSV_MIMETYPE, XLSX_MIMETYPE
from . import lifecycle, strictness


class ProblemSchema(BaseSchema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Api(SmorestApi):
    """flask-smorest whose errors are problem+json, documented as such."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Install none: the app's handlers in ``errors`` answer every error, the API's too."""

    def _register_responses(self):
        """Document every error response as problem+json (flask-smorest says JSON)."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class DocumentPlugin(BasePlugin):
    """What the decorators do not say: CSV beside JSON for ``format``, bearer auth on writes."""

    def schema_helper(self, name, definition, **kwargs):
        """A schema's rules across its fields (``JSON_SCHEMA_EXTRA``), which marshmallow's
        converter does not see."""
        schema = kwargs.get("schema")
        schema = schema if isinstance(schema, type) else type(schema)
        return dict(getattr(schema, "JSON_SCHEMA_EXTRA", {}))

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
            success = responses.get(200, responses.get("200"))
            if "format" in names and isinstance(success, dict) and "content" in success:
                success["content"][CSV_MIMETYPE] = {
                    "schema": {"type": "string", "description": "CSV with a header row"}
                }
                success["content"][XLSX_MIMETYPE] = {
                    "schema": {"type": "string", "format": "binary", "description": "XLSX"}
                }
            # Unknown query parameters are refused on every operation (see API_DESCRIPTION).
            responses.setdefault(422, "UNPROCESSABLE_ENTITY")
            if method.upper() not in SAFE_METHODS:
                operation["security"] = [{BEARER: []}]
                responses.setdefault(401, "UNAUTHORIZED")
            # An error documented by its description alone (``alt_response``) is a problem too.
            for status, response in responses.items():
                if (
                    str(status)[0] in "45"
                    and isinstance(response, dict)
                    and "content" not in response
                ):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA_REF}}


BEARER = "bearerAuth"
PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}


def init_app(app: Flask) -> None:
    """Bind a new API and its blueprints to the app (one per app: apps share no state)."""
    from . import (
        announcements,
        audit,
        auth,
        changes,
        events,
        groups,
        instruments,
        participants,
        webhooks,
    )

    # Before any route is added: ids are ASCII digits.
    app.url_map.converters["int"] = strictness.AsciiIntegerConverter
    api = Api(
        app,
        spec_kwargs={
            "extra_plugins": [DocumentPlugin()],
            "info": {"description": API_DESCRIPTION},
        },
    )
    api.spec.components.security_scheme(
        BEARER, {"type": "http", "scheme": "bearer", "description": "friendsgroup token create"}
    )
    blueprints = (participants, groups, instruments, events, audit, changes, webhooks)
    for module in (*blueprints, announcements):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    auth.register(app)
    app.before_request(refuse_impossible_path_keys)
    app.before_request(strictness.refuse_unknown_parameters)
    lifecycle.register(app)


# The largest id a row can have: ids are INTEGER, 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1


def refuse_impossible_path_keys() -> None:
    """404 for a path key no row has and the database would refuse: a NUL, an id over 2**31."""
    for name, value in (request.view_args or {}).items():
        if (isinstance(value, str) and "\x00" in value) or (
            isinstance(value, int) and value > MAX_ID
        ):
            raise not_found(name, str(value).replace("\x00", "\\0"))


API_DESCRIPTION = (
    "A registry of who joined which multilateral group and who committed to which "
    "instrument, when, on what evidence, and how that record changed over time. "
    "Reads are public; writes need `Authorization: Bearer <token>`. Errors are "
    "RFC 9457 `application/problem+json`. Every derived read takes `as_of` (a date, "
    "default today) and `known_at` (an instant, default now). "
    "Query parameters an operation does not list are refused with 422 naming the parameter, "
    "and a token in the URL (`access_token`) with 400. "
    "Integers are written as JSON integers (`1.0` and `true` are refused) and, in a query, "
    "in ASCII digits (`+1`, `1_0` and `١` are refused)."
)
