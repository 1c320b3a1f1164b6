"""The ``/api/v1`` API: flask-smorest with problem+json errors."""

import http

from flask import Flask, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from marshmallow import fields

from ..errors import PROBLEM_JSON, http_exception_response, not_found
from ..schemas import BaseSchema
from . import lifecycle


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

    def handle_http_exception(self, error):
        return http_exception_response(error)

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


api = Api()


def init_app(app: Flask) -> None:
    """Bind the API and its blueprints to the app."""
    from . import events, groups, instruments, participants

    api.init_app(app, spec_kwargs={"info": {"description": API_DESCRIPTION}})
    for module in (participants, groups, instruments, events):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.before_request(refuse_nul_in_path)
    lifecycle.register(app)


def refuse_nul_in_path() -> None:
    """404 for a path key with a NUL character: no key has one, and PostgreSQL refuses it."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            raise not_found(name, value.replace("\x00", "\\0"))


API_DESCRIPTION = (
    "A registry of who joined which multilateral group and who committed to which "
    "instrument, when, on what evidence, and how that record changed over time. "
    "Reads are public; writes need `Authorization: Bearer <token>`. Errors are "
    "RFC 9457 `application/problem+json`. Every derived read takes `as_of` (a date, "
    "default today) and `known_at` (an instant, default now)."
)
