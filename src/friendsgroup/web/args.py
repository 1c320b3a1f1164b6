"""The query parameters of the pages, checked like the API's: a bad one is a 422 naming it."""

from flask import request
from marshmallow import EXCLUDE, ValidationError, fields, validate

from ..errors import validation_problem
from ..schemas import BaseSchema, Day, Text, Timestamp

MEMBER_SORTS = ("name", "region", "since", "reliability")


class PageArgsSchema(BaseSchema):
    """``as_of`` and ``known_at``; other parameters (``lang``, trackers) are not this page's."""

    class Meta:
        unknown = EXCLUDE

    as_of = Day(load_default=None)
    known_at = Timestamp(load_default=None)


class GroupPageArgsSchema(PageArgsSchema):
    """The group page also sorts and filters its member table."""

    region = Text(max_length=64, load_default=None)
    sort = fields.String(load_default="name", validate=validate.OneOf(MEMBER_SORTS))


class SearchArgsSchema(PageArgsSchema):
    """The participant search."""

    q = Text(max_length=300, load_default="")


def page_args(schema: type[BaseSchema] = PageArgsSchema) -> dict:
    """The request's query parameters, or a 422 naming the first bad one."""
    # An empty field of a GET form means "not given", as a missing parameter does.
    given = {name: value for name, value in request.args.items() if value != ""}
    try:
        return schema().load(given)
    except ValidationError as error:
        field, messages = next(iter(error.normalized_messages().items()))
        raise validation_problem(field, " ".join(map(str, messages))) from error
