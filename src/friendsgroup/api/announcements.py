"""``/announcements/{id}``: one announced total, its retraction and its correction."""

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import get_session
from ..errors import not_found
from ..history import correct_announcement, retract_announcement
from ..models import Announcement
from ..schemas import AnnouncementCorrectionSchema, AnnouncementSchema, RetractionSchema
from .auth import current_token_name

blp = Blueprint(
    "announcements", __name__, description="Announced totals: corrected and retracted like events"
)


def get_announcement_or_404(announcement_id: int) -> Announcement:
    """The announcement with this id, or 404."""
    announcement = get_session().get(Announcement, announcement_id)
    if announcement is None:
        raise not_found("announcement", str(announcement_id))
    return announcement


@blp.route("/announcements/<int:announcement_id>")
class AnnouncementDetail(MethodView):
    @blp.response(200, AnnouncementSchema)
    def get(self, announcement_id):
        """One announced total, with its retraction and supersession marks."""
        return get_announcement_or_404(announcement_id)


@blp.route("/announcements/<int:announcement_id>/retraction")
class AnnouncementRetraction(MethodView):
    @blp.arguments(RetractionSchema())
    @blp.response(200, AnnouncementSchema)
    @blp.alt_response(409, description="Already retracted")
    def post(self, data, announcement_id):
        """Withdraw an announced total from the record (it stays, marked retracted)."""
        announcement = get_announcement_or_404(announcement_id)
        return retract_announcement(
            get_session(), announcement, data["reason"], current_token_name()
        )


@blp.route("/announcements/<int:announcement_id>/correction")
class AnnouncementCorrection(MethodView):
    @blp.arguments(AnnouncementCorrectionSchema())
    @blp.response(201, AnnouncementSchema)
    @blp.alt_response(409, description="Already retracted")
    def post(self, data, announcement_id):
        """Retract an announced total and record its replacement in one transaction.

        Omitted fields are copied; ``note: null`` clears the note; a correction that changes
        nothing is refused (422).
        """
        session = get_session()
        announcement = get_announcement_or_404(announcement_id)
        replacement = correct_announcement(session, announcement, data, current_token_name())
        location = url_for("announcements.AnnouncementDetail", announcement_id=replacement.id)
        return replacement, 201, {"Location": location}
