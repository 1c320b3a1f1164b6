"""The pages: the registry, a group, a participant, an instrument, an event."""

from datetime import date
from urllib.parse import quote

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..db import get_session
from ..errors import HTTP_PROBLEM_TITLES, Problem, http_exception_response, not_found
from ..lookups import get_group_or_404, get_instrument_or_404, group_ref_or_404
from ..models import RELIABILITIES, Event, Group, Instrument, timeline_order
from ..participants import get_participant_or_404
from ..reports.announced import RELIABILITY_RANK, announcements_of, source_dict
from ..reports.instruments import instrument_participants
from ..reports.members import UNKNOWN_REGION, members_report
from ..reports.series import counts_series, instrument_counts
from ..reports.standing import participant_standing
from ..reports.visibility import events_known
from ..schemas import EventSchema
from ..timeutil import today, utcnow
from .args import GroupPageArgsSchema, SearchArgsSchema, page_args
from .chart import Labels, growth_chart, sparkline
from .i18n import day, participant_name
from .kept import kept_page
from .rendering import HTML, PAGE_CSP, SVG_CSP, page, tagged
from .search import search_participants

blp = Blueprint("web", __name__, template_folder="templates")

RECENT_CHANGES = 10
# The growth chart (and its table) keeps to a hundred-odd points whatever the span: a day per
# point for a quarter, a week for a year, a month beyond.
CHART_INTERVALS = ((92, "day"), (366, "week"))


def chart_interval(start: date, end: date) -> str:
    """The interval of the chart's series for a span of dates."""
    span = (end - start).days
    return next((name for days, name in CHART_INTERVALS if span <= days), "month")


def page_url(endpoint: str, **values) -> str:
    """A link that keeps the language asked for by ``?lang=``."""
    if "lang" in request.args and "lang" not in values:
        values["lang"] = request.args["lang"]
    return url_for(endpoint, **values)


def url_maker(endpoint: str, key: str):
    """A function of one value giving ``page_url(endpoint, key=value)``, built once per page.

    A member table links each of its rows; routing each link would cost more than the report.
    """
    marker = "__value__"
    template = page_url(endpoint, **{key: marker})
    before, after = template.split(marker, 1)
    return lambda value: f"{before}{quote(str(value), safe='')}{after}"


@blp.app_context_processor
def helpers() -> dict:
    return {"page_url": page_url, "reliabilities": RELIABILITIES, "url_maker": url_maker}


@blp.errorhandler(Problem)
def page_problem(problem: Problem):
    """A page's error is a page too, with the same status and the parameter named."""
    return page(
        "error.html",
        status=problem.status,
        title=problem.title,
        detail=problem.detail,
        errors=problem.errors,
    )


@blp.errorhandler(HTTPException)
def page_http_error(error: HTTPException):
    """A 404 or 405 of a page, as a page."""
    status = error.code or 500
    title = HTTP_PROBLEM_TITLES.get(status, error.name)
    response = page("error.html", status=status, title=title, detail=None, errors=None)
    allowed = error.get_response().headers.get("Allow") if status == 405 else None
    if allowed:
        response.headers["Allow"] = allowed
    return response


# What a client that names no preference gets first: the API's problem+json.
ERROR_TYPES = ("application/problem+json", "application/json", "text/html")


def unrouted_error(error: HTTPException):
    """A URL that names nothing (a mistyped address): a page for a browser outside the API,
    problem+json for everyone else, as before."""
    wants_page = request.accept_mimetypes.best_match(ERROR_TYPES) == "text/html"
    if wants_page and not request.path.startswith("/api/"):
        return page_http_error(error)
    return http_exception_response(error)


# --- the registry ------------------------------------------------------------------------


@blp.get("/")
def home():
    """Each group with its count today and its growth, the latest changes, search and links."""
    args = page_args()
    session = get_session()
    groups = []
    for group in session.scalars(select(Group).order_by(Group.name, Group.slug)):
        report = members_report(session, group, args["as_of"], args["known_at"])
        as_of = date.fromisoformat(report["as_of"])
        end = max(as_of, group.established_on)
        series = counts_series(
            session,
            group,
            group.established_on,
            end,
            chart_interval(group.established_on, end),
            args["known_at"],
        )
        title = _("Members of %(name)s over time", name=group.name)
        groups.append(
            {
                "group": group,
                "report": report,
                "sparkline": sparkline(series, title, f"spark-{group.slug}"),
            }
        )
    known_at = args["known_at"] or utcnow()
    recent = session.scalars(
        events_known(known_at)
        .order_by(Event.recorded_at.desc(), Event.id.desc())
        .limit(RECENT_CHANGES)
    ).all()
    instruments = session.scalars(select(Instrument).order_by(Instrument.name)).all()
    return page(
        "home.html",
        groups=groups,
        recent=EventSchema(many=True).dump(recent),
        instruments=instruments,
        args=args,
    )


@blp.get("/participants")
def participants():
    """Participants whose name, code or other name (in English or Japanese) matches ``q``."""
    args = page_args(SearchArgsSchema)
    found = search_participants(get_session(), args["q"]) if args["q"] else []
    return page("participants.html", q=args["q"], found=found)


# --- a group -------------------------------------------------------------------------------


def _sort_key(sort: str):
    def reliability(member):
        source = member.get("source") or {}
        return -RELIABILITY_RANK.get(source.get("reliability"), -1)

    keys = {
        "name": lambda m: (m["display_name"].casefold(), m["code"]),
        "region": lambda m: (m["region"] or "~", m["display_name"].casefold()),
        "since": lambda m: (m["member_since"], m["display_name"].casefold()),
        "reliability": lambda m: (reliability(m), m["display_name"].casefold()),
    }
    return keys[sort]


def group_chart(session, group, report: dict, known_at, ident: str, standalone: bool = False):
    """The group's growth chart up to the later of ``as_of`` and today, and its series."""
    as_of = date.fromisoformat(report["as_of"])
    end = max(as_of, today(), group.established_on)
    series = counts_series(
        session,
        group,
        group.established_on,
        end,
        chart_interval(group.established_on, end),
        known_at,
    )
    announcements = announcements_of(session, group, known_at or utcnow())
    labels = Labels(
        title=_("Members of %(name)s over time", name=group.name),
        desc=_(
            "Counted members as a step line from %(start)s to %(end)s, a band up to the "
            "possibly members, announced totals as labelled markers; %(count)s members on "
            "%(as_of)s.",
            start=day(series["from"]),
            end=day(series["to"]),
            count=report["count"],
            as_of=day(as_of),
        ),
        counted=_("Counted members"),
        possibly=_("Possibly members (uncertain date)"),
        announced={
            "official": _("Announced (official)"),
            "reported": _("Announced (reported)"),
            "unverified": _("Announced (unverified)"),
        },
        as_of=_("as of %(date)s", date=day(as_of)),
        marker=lambda count, on, reliability: _(
            "Announced %(count)s on %(date)s (%(reliability)s)",
            count=count,
            date=day(on),
            reliability=_(reliability),
        ),
    )
    svg = growth_chart(
        series, announcements, as_of, labels, _tick_label, ident=ident, standalone=standalone
    )
    return svg, series, announcements


def _tick_label(tick: date) -> str:
    from flask_babel import format_date

    return str(tick.year) if tick.month == 1 else format_date(tick, "MMM")


@blp.get("/groups/<slug>")
def group(slug: str):
    """The headline, the chart, members by region, the member table, the possible members."""
    args = page_args(GroupPageArgsSchema)
    session = get_session()

    def render() -> str:
        return _group_page(session, get_group_or_404(session, slug), args)

    if args["known_at"] is not None:
        return tagged(render(), HTML, PAGE_CSP)
    # As known now, the most asked page: kept while its group is unchanged. The group's id
    # comes from the per-process cache; its entity is read only to render.
    return tagged(kept_page(group_ref_or_404(slug).id, render), HTML, PAGE_CSP)


def _group_page(session, group: Group, args: dict) -> str:
    """The group page's HTML."""
    report = members_report(session, group, args["as_of"], args["known_at"], evidence=True)
    for member in report["members"]:
        member["display_name"] = participant_name(member["code"], member["name"], member["kind"])
    members = report["members"]
    if args["region"]:
        wanted = args["region"].casefold()
        members = [m for m in members if (m["region"] or UNKNOWN_REGION).casefold() == wanted]
    members = sorted(members, key=_sort_key(args["sort"]))
    chart, series, announcements = group_chart(session, group, report, args["known_at"], "chart")
    as_of = date.fromisoformat(report["as_of"])
    for member in report["possible_members"]:
        member["display_name"] = participant_name(member["code"], member["name"], member["kind"])
    query = {k: v for k, v in request.args.items() if k in ("as_of", "known_at") and v}
    return render_template(
        "group.html",
        status=200,
        group=group,
        report=report,
        members=members,
        chart=chart,
        series=series,
        announcements=[
            {**source_dict(a), "as_of": a.as_of, "count": a.count, "note": a.note}
            if a.url
            else {"as_of": a.as_of, "count": a.count, "note": a.note, "reliability": None}
            for a in announcements
            if a.as_of <= as_of
        ],
        possible=sorted(report["possible_members"], key=_sort_key("name")),
        args=args,
        query=query,
        regions=sorted(report["by_region"]),
    )


@blp.get("/groups/<slug>/chart.svg")
def group_chart_svg(slug: str):
    """The growth chart alone, to embed or download."""
    args = page_args()
    session = get_session()
    group = get_group_or_404(session, slug)
    report = members_report(session, group, args["as_of"], args["known_at"])
    svg, _series, _announcements = group_chart(
        session, group, report, args["known_at"], "chart", standalone=True
    )
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg)
    return tagged(body, "image/svg+xml; charset=utf-8", SVG_CSP)


# --- a participant, an instrument, an event ------------------------------------------------


@blp.get("/participants/<code>")
def participant(code: str):
    """Periods in every group, commitments, and the whole timeline with every source."""
    args = page_args()
    session = get_session()
    found = get_participant_or_404(session, code)
    standing = participant_standing(session, found, args["as_of"], args["known_at"])
    known_at = args["known_at"] or utcnow()
    events = session.scalars(
        events_known(known_at, Event.participant_id == found.id, include_retracted=True).order_by(
            *timeline_order()
        )
    ).all()
    timeline = EventSchema(many=True).dump(events)
    by_id = {event["id"]: event for event in timeline}
    for event in timeline:
        # A retraction is "not yet" at a known_at before it happened.
        if event["retracted_at"] and event["retracted_at"] > known_at.isoformat():
            event["retracted_at"] = event["retraction_reason"] = None
        event["replaced"] = by_id.get(event["supersedes"])
    return page(
        "participant.html",
        participant=found,
        display_name=participant_name(found.code, found.name, found.kind),
        standing=standing,
        timeline=timeline,
        args=args,
    )


@blp.get("/instruments/<slug>")
def instrument(slug: str):
    """Provisions, who is committed (full or partial, per provision), reports, over time."""
    args = page_args()
    session = get_session()
    found = get_instrument_or_404(session, slug)
    report = instrument_participants(session, found, args["as_of"], args["known_at"])
    for committed in report["participants"]:
        committed["display_name"] = participant_name(
            committed["code"], committed["name"], committed["kind"]
        )
    end = max(date.fromisoformat(report["as_of"]), found.adopted_on)
    series = instrument_counts(session, found, found.adopted_on, end, "quarter", args["known_at"])
    return page("instrument.html", instrument=found, report=report, series=series, args=args)


@blp.get("/events/<int:event_id>")
def event(event_id: int):
    """One event, its sources, and its chain of corrections."""
    session = get_session()
    found = session.get(Event, event_id)
    if found is None:
        raise not_found("event", str(event_id))
    chain = []
    earlier = found.supersedes
    while earlier is not None:
        chain.insert(0, earlier)
        earlier = earlier.supersedes
    chain.append(found)
    later = found.superseded_by
    while later is not None:
        chain.append(later)
        later = later.superseded_by
    dumped = EventSchema(many=True).dump(chain)
    return page(
        "event.html",
        event=next(e for e in dumped if e["id"] == event_id),
        chain=dumped if len(dumped) > 1 else [],
        display_name=participant_name(
            found.participant.code, found.participant.name, found.participant.kind
        ),
    )
