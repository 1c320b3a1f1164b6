"""``/participants``: who can join groups and commit to instruments."""

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..changes import record_change
from ..db import get_session
from ..folding import fold, folded
from ..models import Event, Participant
from ..participants import get_participant_or_404, matching, rename
from ..registration import build_participant
from ..reports.standing import participant_standing
from ..schemas import (
    EventListArgsSchema,
    EventPageSchema,
    ParticipantCreateSchema,
    ParticipantDetailSchema,
    ParticipantListArgsSchema,
    ParticipantPageSchema,
    ParticipantPatchSchema,
    ParticipantSchema,
    StandingArgsSchema,
)
from .auth import current_token_name
from .lookups import add_unique
from .pages import event_page, page_response, paginate

blp = Blueprint("participants", __name__, description="Countries, regions and organisations")

PARTICIPANT_COLUMNS = ["code", "name", "kind", "region", "sub_region", "url"]


@blp.route("/participants")
class Participants(MethodView):
    @blp.arguments(ParticipantListArgsSchema(), location="query")
    @blp.response(200, ParticipantPageSchema)
    def get(self, args):
        """List participants (filters: kind, region, q); cursor pagination."""
        statement = select(Participant)
        if "kind" in args:
            statement = statement.where(Participant.kind == args["kind"])
        # Filters are values, never patterns: compared folded, the same on either database.
        if "region" in args:
            region = fold(args["region"])
            statement = statement.where(
                (folded(Participant.region) == region) | (folded(Participant.sub_region) == region)
            )
        if "q" in args:
            # Name, code and aliases, by folded keys: the same on SQLite and PostgreSQL.
            statement = statement.where(matching(args["q"]))
        statement = statement.options(selectinload(Participant.aliases))
        items, next_cursor = paginate(
            get_session(), statement, [Participant.code], [str], args["limit"], args["cursor"]
        )
        return page_response(
            ParticipantSchema(many=True).dump(items),
            next_cursor,
            PARTICIPANT_COLUMNS,
            args["format"],
        )

    @blp.arguments(ParticipantCreateSchema())
    @blp.response(201, ParticipantSchema)
    def post(self, data):
        """Register a region or an organisation (countries register themselves on first use)."""
        participant = add_unique(
            get_session(), build_participant(data), "participant", data["code"], "code"
        )
        return participant, 201, {"Location": f"/api/v1/participants/{participant.code}"}


@blp.route("/participants/<code>")
class ParticipantDetail(MethodView):
    @blp.arguments(StandingArgsSchema(), location="query")
    @blp.response(200, ParticipantDetailSchema)
    def get(self, args, code):
        """One participant, with its membership periods and commitment status."""
        session = get_session()
        participant = get_participant_or_404(session, code)
        standing = participant_standing(session, participant, args["as_of"], args["known_at"])
        return {**standing, "aliases": participant.aliases}

    @blp.arguments(ParticipantPatchSchema())
    @blp.response(200, ParticipantSchema)
    def patch(self, data, code):
        """Rename a participant (the previous name stays an alias) or add names it goes by."""
        session = get_session()
        participant = get_participant_or_404(session, code)
        previous = participant.name
        rename(participant, data.get("name"), data.get("aliases", []))
        session.flush()
        if participant.name != previous:
            record_change(session, "renamed", participant, current_token_name())
        return participant


@blp.route("/participants/<code>/events")
class ParticipantEvents(MethodView):
    @blp.arguments(EventListArgsSchema(), location="query")
    @blp.response(200, EventPageSchema)
    def get(self, args, code):
        """The participant's whole timeline, all groups and instruments."""
        session = get_session()
        participant = get_participant_or_404(session, code)
        return event_page(session, args, Event.participant_id == participant.id)
