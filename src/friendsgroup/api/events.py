"""``/events/{id}``: one event, its retraction and its correction."""

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import get_session
from ..errors import not_found
from ..history import correct_event, retract_event
from ..models import Event
from ..schemas import CorrectionSchema, EventSchema, RetractionSchema
from .auth import current_token_name
from .responses import event_created

blp = Blueprint("events", __name__, description="Events: the source of truth")


def get_event_or_404(event_id: int) -> Event:
    """The event with this id, or 404."""
    event = get_session().get(Event, event_id)
    if event is None:
        raise not_found("event", str(event_id))
    return event


@blp.route("/events/<int:event_id>")
class EventDetail(MethodView):
    @blp.response(200, EventSchema)
    def get(self, event_id):
        """One event, with its retraction and supersession marks."""
        return get_event_or_404(event_id)


@blp.route("/events/<int:event_id>/retraction")
class Retraction(MethodView):
    @blp.arguments(RetractionSchema())
    @blp.response(200, EventSchema)
    @blp.alt_response(409, description="Already retracted, or the history would break")
    def post(self, data, event_id):
        """Withdraw an event from the record (it stays, marked retracted)."""
        event = get_event_or_404(event_id)
        return retract_event(
            get_session(), event, data["reason"], retracted_by=current_token_name()
        )


@blp.route("/events/<int:event_id>/correction")
class Correction(MethodView):
    @blp.arguments(CorrectionSchema())
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="Already retracted, or the corrected history would break")
    @blp.alt_response(422, description="A field is invalid, or the correction changes nothing")
    def post(self, data, event_id):
        """Retract an event and record its replacement in one transaction.

        Each field given replaces the event's (``null`` clears ``earliest_on`` or ``note``),
        each one omitted is copied; ``sources`` replaces and ``add_sources`` appends; a
        correction that changes nothing is refused (422).
        """
        session = get_session()
        replacement = correct_event(session, get_event_or_404(event_id), data, current_token_name())
        return event_created(replacement)
