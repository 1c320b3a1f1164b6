"""``/groups``: membership bodies, their accessions, withdrawals, members and counts."""

from datetime import date

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..db import get_session
from ..history import record_announcement, record_event
from ..lookups import get_group_or_404, group_ref_or_404
from ..models import Announcement, Event, Group
from ..registration import build_group
from ..reports.announced import announcements_known
from ..reports.members import members_report
from ..reports.schemas import (
    CountPointSchema,
    CountsReportSchema,
    MembersArgsSchema,
    MembersReportSchema,
    PossibleMemberSchema,
)
from ..reports.series import counts_series
from ..reports.tables import (
    ANNOUNCEMENT_COLUMNS,
    MEMBER_COLUMNS,
    announcement_table,
    member_table,
)
from ..schemas import (
    AnnouncementCreateSchema,
    AnnouncementListArgsSchema,
    AnnouncementPageSchema,
    AnnouncementSchema,
    CountsArgsSchema,
    EventCreateSchema,
    EventListArgsSchema,
    EventPageSchema,
    EventSchema,
    GroupCreateSchema,
    GroupPageSchema,
    GroupSchema,
    PageArgsSchema,
)
from ..tabular import columns_of
from .audit import name_created
from .auth import current_token_name
from .lookups import add_unique
from .pages import event_page, page_response, paginate
from .report_cache import fresh_report
from .responses import event_created, render_json_report, report_response, tabular_format

blp = Blueprint("groups", __name__, description="Groups and their membership history")

GROUP_COLUMNS = ["slug", "name", "established_on", "member_kinds", "url", "description"]


@blp.route("/groups")
class Groups(MethodView):
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, GroupPageSchema)
    def get(self, args):
        """List groups."""
        items, next_cursor = paginate(
            get_session(), select(Group), [Group.slug], [str], args["limit"], args["cursor"]
        )
        return page_response(
            GroupSchema(many=True).dump(items), next_cursor, GROUP_COLUMNS, args["format"]
        )

    @blp.arguments(GroupCreateSchema())
    @blp.response(201, GroupSchema)
    def post(self, data):
        """Create a group."""
        group = add_unique(get_session(), build_group(data), "group", data["slug"], "slug")
        return group, 201, {"Location": f"/api/v1/groups/{group.slug}"}


@blp.route("/groups/<slug>")
class GroupDetail(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, slug):
        """One group."""
        return get_group_or_404(get_session(), slug)


def _record(slug: str, event_type: str, data: dict):
    # Groups never change once created: the per-process entry spares a statement.
    group = group_ref_or_404(slug)
    event = record_event(get_session(), group, event_type, data, current_token_name())
    name_created("events", event.id)
    return event_created(event)


@blp.route("/groups/<slug>/accessions")
class Accessions(MethodView):
    @blp.arguments(EventCreateSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="Already a member, or a history conflict")
    def post(self, data, slug):
        """Record an accession."""
        return _record(slug, "accession", data)


@blp.route("/groups/<slug>/withdrawals")
class GroupWithdrawals(MethodView):
    @blp.arguments(EventCreateSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="Not a member, or a history conflict")
    def post(self, data, slug):
        """Record a withdrawal from the group."""
        return _record(slug, "withdrawal", data)


@blp.route("/groups/<slug>/events")
class GroupEvents(MethodView):
    @blp.arguments(EventListArgsSchema(), location="query")
    @blp.response(200, EventPageSchema)
    def get(self, args, slug):
        """The group's events (filters: participant, type, include_retracted, known_at)."""
        session = get_session()
        group = get_group_or_404(session, slug)
        return event_page(session, args, Event.group_id == group.id)


POINT_COLUMNS = columns_of(CountPointSchema)


POSSIBLE_COLUMNS = columns_of(PossibleMemberSchema)


@blp.route("/groups/<slug>/members")
class Members(MethodView):
    @blp.arguments(MembersArgsSchema(), location="query")
    @blp.response(200, MembersReportSchema)
    def get(self, args, slug):
        """Members on ``as_of`` as known at ``known_at``, with counts and the announced total.

        ``format=csv`` gives the members' rows, or with ``rows=possible_members`` the rows of
        those possibly members (inside an uncertain join window).
        """
        group = group_ref_or_404(slug)
        # Downloads carry each member's evidence; the JSON keeps its documented shape.
        evidence = tabular_format(args["format"]) is not None
        if args["rows"] == "possible_members":
            report = members_report(get_session(), group, args["as_of"], args["known_at"], evidence)
            return report_response(report, "possible_members", POSSIBLE_COLUMNS, args["format"])
        if evidence or args["known_at"] is not None:
            report = members_report(get_session(), group, args["as_of"], args["known_at"], evidence)
            return report_response(report, "members", MEMBER_COLUMNS, args["format"], member_table)

        def render(as_of, now):
            return render_json_report(members_report(get_session(), group, as_of, now))

        return fresh_report("members", group, args["as_of"], render)


@blp.route("/groups/<slug>/counts")
class Counts(MethodView):
    @blp.arguments(CountsArgsSchema(), location="query")
    @blp.response(200, CountsReportSchema)
    def get(self, args, slug):
        """Counts at the end of each interval from ``from`` to ``to``."""
        group = group_ref_or_404(slug)
        series = counts_series(
            get_session(), group, args["from_"], args["to"], args["interval"], args["known_at"]
        )
        return report_response(series, "points", POINT_COLUMNS, args["format"])


@blp.route("/groups/<slug>/announcements")
class Announcements(MethodView):
    @blp.arguments(AnnouncementListArgsSchema(), location="query")
    @blp.response(200, AnnouncementPageSchema)
    def get(self, args, slug):
        """Totals announced for the group, as known at ``known_at`` (retracted ones on request)."""
        session = get_session()
        group = get_group_or_404(session, slug)
        statement = select(Announcement).where(
            Announcement.group_id == group.id, announcements_known(args)
        )
        items, next_cursor = paginate(
            session,
            statement,
            [Announcement.as_of, Announcement.id],
            [date, int],
            args["limit"],
            args["cursor"],
        )
        return page_response(
            AnnouncementSchema(many=True).dump(items),
            next_cursor,
            ANNOUNCEMENT_COLUMNS,
            args["format"],
            announcement_table,
        )

    @blp.arguments(AnnouncementCreateSchema())
    @blp.response(201, AnnouncementSchema)
    def post(self, data, slug):
        """Record a total announced by an authority."""
        session = get_session()
        group = get_group_or_404(session, slug)
        announcement = record_announcement(session, group, data, current_token_name())
        return announcement, 201
