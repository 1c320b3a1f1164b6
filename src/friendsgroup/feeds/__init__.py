"""Atom feeds of the change log: the registry's, and each group's, instrument's, participant's."""

import hashlib

from flask import Blueprint, Flask, Response, current_app, request

from ..db import get_session
from ..errors import not_found
from ..models import Group, Instrument
from ..participants import get_participant_or_404
from ..reports.changes import ChangeFilter, latest_changes
from .atom import ATOM_MIMETYPE, atom_feed, newest

blp = Blueprint("feeds", __name__)

ENTRIES = 100  # the newest changes a feed carries


def _feed(where: ChangeFilter, title: str, scope: str) -> Response:
    """The feed of the newest changes matching ``where``, tagged and dated for conditional GETs."""
    changes = latest_changes(get_session(), ENTRIES, where)
    body = atom_feed(
        changes,
        title=title,
        scope=scope,
        base_url=request.host_url.rstrip("/"),
        self_path=request.path,
        authority=current_app.config["FEED_TAG_AUTHORITY"],
    )
    response = Response(body, mimetype=ATOM_MIMETYPE)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.last_modified = newest(changes)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response.make_conditional(request)


def _by_slug(model, slug: str, what: str):
    found = get_session().query(model).filter(model.slug == slug).one_or_none()
    if found is None:
        raise not_found(what, slug)
    return found


@blp.get("/feed.atom")
def registry_feed():
    """Every change to the registry."""
    return _feed(ChangeFilter(), "friendsgroup: every change", "registry")


@blp.get("/groups/<slug>/feed.atom")
def group_feed(slug: str):
    """The changes of one group: accessions, withdrawals, announced totals."""
    group = _by_slug(Group, slug, "group")
    return _feed(ChangeFilter(group_id=group.id), f"{group.name}: changes", f"groups/{slug}")


@blp.get("/instruments/<slug>/feed.atom")
def instrument_feed(slug: str):
    """The changes of one instrument: commitments, reports, withdrawals."""
    instrument = _by_slug(Instrument, slug, "instrument")
    return _feed(
        ChangeFilter(instrument_id=instrument.id),
        f"{instrument.name}: changes",
        f"instruments/{slug}",
    )


@blp.get("/participants/<code>/feed.atom")
def participant_feed(code: str):
    """The changes of one participant, in every group and instrument."""
    participant = get_participant_or_404(get_session(), code)
    return _feed(
        ChangeFilter(participant_id=participant.id),
        f"{participant.name}: changes",
        f"participants/{participant.code}",
    )


def register(app: Flask) -> None:
    """Serve the feeds."""
    app.register_blueprint(blp)
