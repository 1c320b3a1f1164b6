"""``/changes``: the registry's own history of what it learned, paged by position."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..db import get_session
from ..errors import validation_problem
from ..models import CHANGE_TYPES, Group, Instrument
from ..participants import find_participant
from ..reports.changes import START, ChangeFilter, change_dict, changes_after
from ..schemas import BaseSchema, Code, Slug, Timestamp
from .pages import decode_cursor, encode_cursor, next_link
from .responses import json_response

blp = Blueprint("changes", __name__, description="The change log: what was recorded, in order")


class ChangeListArgsSchema(BaseSchema):
    """Filters and position of the change log."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    group = Slug()
    instrument = Slug()
    participant = Code()
    type = fields.String(validate=validate.OneOf(CHANGE_TYPES))
    since = Timestamp()


class ChangeSchema(BaseSchema):
    """One change: its type, time, author, what it is about and that resource as it is now."""

    id = fields.Integer()
    type = fields.String()
    recorded_at = Timestamp()
    recorded_by = fields.String()
    group = fields.String(allow_none=True)
    instrument = fields.String(allow_none=True)
    participant = fields.String(allow_none=True)
    summary = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())
    resource = fields.Dict(metadata={"description": "the event, announcement, group, …"})


class ChangePageSchema(BaseSchema):
    """A page of changes; ``next_cursor`` is never null: keep it and ask again later."""

    items = fields.List(fields.Nested(ChangeSchema))
    next_cursor = fields.String()


def change_filter(session, args: dict) -> ChangeFilter:
    """The filter the query names; 422 naming a parameter that names nothing registered."""
    ids = {}
    for name, model in (("group", Group), ("instrument", Instrument)):
        if name in args:
            ids[f"{name}_id"] = session.scalar(select(model.id).where(model.slug == args[name]))
            if ids[f"{name}_id"] is None:
                raise validation_problem(name, f"no {name} {args[name]!r}")
    if "participant" in args:
        participant = find_participant(session, args["participant"])
        if participant is None:
            raise validation_problem("participant", f"no participant {args['participant']!r}")
        ids["participant_id"] = participant.id
    return ChangeFilter(**ids, type=args.get("type"), since=args.get("since"))


@blp.route("/changes")
class Changes(MethodView):
    @blp.arguments(ChangeListArgsSchema(), location="query")
    @blp.response(200, ChangePageSchema)
    def get(self, args):
        """Changes in the order they were committed; a stored cursor gets exactly the unseen ones.

        A change appears once every transaction that began before it has ended, so a client
        that follows ``next_cursor`` sees every change once, none skipped, while writes go on.
        """
        session = get_session()
        after = tuple(decode_cursor(args["cursor"], [int, int])) if args["cursor"] else START
        found, reached = changes_after(session, after, args["limit"], change_filter(session, args))
        next_cursor = encode_cursor(list(reached))
        # More may be waiting only behind a full page: that is the only ``next`` link.
        headers = next_link(next_cursor) if len(found) == args["limit"] else {}
        body = {"items": [change_dict(change) for change in found], "next_cursor": next_cursor}
        return json_response(body, headers=headers)
