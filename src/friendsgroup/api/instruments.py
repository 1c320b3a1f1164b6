"""``/instruments``: texts participants commit to, their commitments, reports and counts."""

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..db import get_session
from ..errors import validation_problem
from ..history import record_event
from ..lookups import find_group, get_group_or_404, get_instrument_or_404
from ..models import Event, Instrument
from ..registration import build_instrument
from ..reports.instruments import instrument_participants
from ..reports.schemas import (
    InstrumentCountsSchema,
    InstrumentParticipantsSchema,
    InstrumentPointSchema,
)
from ..reports.series import instrument_counts
from ..schemas import (
    CommitmentCreateSchema,
    CountsArgsSchema,
    EventCreateSchema,
    EventListArgsSchema,
    EventPageSchema,
    EventSchema,
    InstrumentCreateSchema,
    InstrumentPageSchema,
    InstrumentParticipantsArgsSchema,
    InstrumentSchema,
    PageArgsSchema,
    ReportCreateSchema,
)
from ..tabular import columns_of
from .audit import name_created
from .auth import current_token_name
from .lookups import add_unique
from .pages import event_page, page_response, paginate
from .responses import event_created, report_response

blp = Blueprint("instruments", __name__, description="Instruments and commitments to them")

INSTRUMENT_COLUMNS = ["slug", "name", "short_name", "adopted_on", "url", "group", "provisions"]
COMMITTED_COLUMNS = [
    "code",
    "name",
    "kind",
    "committed_since",
    "date_uncertain",
    "provisions",
    "full",
    "last_report_on",
]
POINT_COLUMNS = columns_of(InstrumentPointSchema)


@blp.route("/instruments")
class Instruments(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, InstrumentPageSchema)
    def get(self, args):
        """List instruments."""
        items, next_cursor = paginate(
            get_session(),
            select(Instrument),
            [Instrument.slug],
            [str],
            args["limit"],
            args["cursor"],
        )
        dumped = InstrumentSchema(many=True).dump(items)
        return page_response(dumped, next_cursor, INSTRUMENT_COLUMNS, args["format"])

    @blp.arguments(InstrumentCreateSchema())
    @blp.response(201, InstrumentSchema)
    def post(self, data):
        """Create an instrument with its numbered provisions."""
        session = get_session()
        group = find_group(session, data["group"]) if data.get("group") else None
        if data.get("group") and group is None:
            raise validation_problem("group", f"no group {data['group']!r}")
        instrument = build_instrument(data, group)
        add_unique(session, instrument, "instrument", data["slug"], "slug")
        return instrument, 201, {"Location": f"/api/v1/instruments/{instrument.slug}"}


@blp.route("/instruments/<slug>")
class InstrumentDetail(MethodView):
    @blp.response(200, InstrumentSchema)
    def get(self, slug):
        """One instrument with its provisions."""
        return get_instrument_or_404(get_session(), slug)


def _record(slug: str, event_type: str, data: dict):
    session = get_session()
    instrument = get_instrument_or_404(session, slug)
    event = record_event(session, instrument, event_type, data, current_token_name())
    name_created("events", event.id)
    return event_created(event)


@blp.route("/instruments/<slug>/commitments")
class Commitments(MethodView):
    @blp.arguments(CommitmentCreateSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="A history conflict")
    def post(self, data, slug):
        """Record a commitment to all provisions (null) or the listed ones."""
        return _record(slug, "commitment", data)


@blp.route("/instruments/<slug>/reports")
class Reports(MethodView):
    @blp.arguments(ReportCreateSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="No active commitment on that date")
    def post(self, data, slug):
        """Record a published report on implementation (sources required)."""
        return _record(slug, "report", data)


@blp.route("/instruments/<slug>/withdrawals")
class InstrumentWithdrawals(MethodView):
    @blp.arguments(EventCreateSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="Not committed, or a history conflict")
    def post(self, data, slug):
        """End a commitment."""
        return _record(slug, "withdrawal", data)


@blp.route("/instruments/<slug>/events")
class InstrumentEvents(MethodView):
    @blp.arguments(EventListArgsSchema(), location="query")
    @blp.response(200, EventPageSchema)
    def get(self, args, slug):
        """The instrument's events (filters: participant, type, include_retracted, known_at)."""
        session = get_session()
        instrument = get_instrument_or_404(session, slug)
        return event_page(session, args, Event.instrument_id == instrument.id)


@blp.route("/instruments/<slug>/participants")
class Committed(MethodView):
    @blp.arguments(InstrumentParticipantsArgsSchema(), location="query")
    @blp.response(200, InstrumentParticipantsSchema)
    def get(self, args, slug):
        """Who is committed on ``as_of``: full, partial, by provision, and who reported."""
        session = get_session()
        instrument = get_instrument_or_404(session, slug)
        group = get_group_or_404(session, args["members_of"]) if args["members_of"] else None
        report = instrument_participants(
            session, instrument, args["as_of"], args["known_at"], group
        )
        return report_response(report, "participants", COMMITTED_COLUMNS, args["format"])


@blp.route("/instruments/<slug>/counts")
class InstrumentCounts(MethodView):
    @blp.arguments(CountsArgsSchema(), location="query")
    @blp.response(200, InstrumentCountsSchema)
    def get(self, args, slug):
        """Committed participants at the end of each interval."""
        session = get_session()
        instrument = get_instrument_or_404(session, slug)
        series = instrument_counts(
            session, instrument, args["from_"], args["to"], args["interval"], args["known_at"]
        )
        return report_response(series, "points", POINT_COLUMNS, args["format"])
