"""``/webhooks``: subscriptions to the change log, their deliveries and re-sending one."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..db import get_session
from ..errors import not_found
from ..models import CHANGE_TYPES, Delivery, DeliveryAttempt, Webhook
from ..schemas import BaseSchema, Code, Slug, Timestamp, Url
from ..timeutil import utcnow
from ..webhooks.subscriptions import create_webhook, remove_webhook
from .auth import authenticate, current_token_name, require_scope
from .pages import page_response, paginate
from .responses import json_response

blp = Blueprint("webhooks", __name__, description="Webhooks: signed deliveries of changes")


class WebhookCreateSchema(BaseSchema):
    """Body of ``POST /webhooks``: the target and the changes wanted (every filter optional)."""

    url = Url(required=True)
    groups = fields.List(Slug(), validate=validate.Length(max=100))
    instruments = fields.List(Slug(), validate=validate.Length(max=100))
    participants = fields.List(Code(), validate=validate.Length(max=500))
    types = fields.List(fields.String(validate=validate.OneOf(CHANGE_TYPES)))


class ListArgsSchema(BaseSchema):
    """A page of a list (JSON only: these lists are for operators, not for spreadsheets)."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


class WebhookSchema(BaseSchema):
    """A subscription (its secret is shown once, in the answer to its creation)."""

    id = fields.Integer()
    url = fields.String()
    groups = fields.List(fields.String(), allow_none=True)
    instruments = fields.List(fields.String(), allow_none=True)
    participants = fields.List(fields.String(), allow_none=True)
    types = fields.List(fields.String(), allow_none=True)
    created_at = Timestamp()
    created_by = fields.String()
    failing_since = Timestamp(allow_none=True)
    disabled_at = Timestamp(allow_none=True)
    disabled_reason = fields.String(allow_none=True)


class WebhookCreatedSchema(WebhookSchema):
    """A new subscription with its signing secret (``whsec_…``), never shown again."""

    secret = fields.String()


class AttemptSchema(BaseSchema):
    """One try: when, the answer's status or the error, and the time it took."""

    attempted_at = Timestamp()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer()
    error = fields.String(allow_none=True)


class DeliverySchema(BaseSchema):
    """One change to send to the webhook, with every attempt."""

    id = fields.Integer()
    change = fields.Function(lambda d: d.change_id)
    type = fields.Function(lambda d: d.change.type)
    status = fields.String()
    attempts = fields.Function(lambda d: AttemptSchema(many=True).dump(_attempts(d)))
    next_attempt_at = Timestamp()
    created_at = Timestamp()
    finished_at = Timestamp(allow_none=True)


def _attempts(delivery: Delivery) -> list[DeliveryAttempt]:
    return list(
        get_session().scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery.id)
            .order_by(DeliveryAttempt.id)
        )
    )


WebhookPageSchema = type(
    "WebhookPageSchema",
    (BaseSchema,),
    {
        "items": fields.List(fields.Nested(WebhookSchema)),
        "next_cursor": fields.String(allow_none=True),
    },
)
DeliveryPageSchema = type(
    "DeliveryPageSchema",
    (BaseSchema,),
    {
        "items": fields.List(fields.Nested(DeliverySchema)),
        "next_cursor": fields.String(allow_none=True),
    },
)
# Reading subscriptions needs the same scope as changing them: they name subscribers' endpoints.
MANAGE = "webhooks:manage"
WEBHOOK_COLUMNS = ["id", "url", "disabled_at", "disabled_reason"]
DELIVERY_COLUMNS = ["id", "change", "type", "status", "next_attempt_at", "finished_at"]


def get_webhook_or_404(webhook_id: int) -> Webhook:
    """The webhook with this id, or 404."""
    webhook = get_session().get(Webhook, webhook_id)
    if webhook is None:
        raise not_found("webhook", str(webhook_id))
    return webhook


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.arguments(ListArgsSchema(), location="query")
    @blp.response(200, WebhookPageSchema)
    def get(self, args):
        """The subscriptions (needs a token: they name their subscribers' endpoints)."""
        require_scope(authenticate(), MANAGE)
        items, next_cursor = paginate(
            get_session(), select(Webhook), [Webhook.id], [int], args["limit"], args["cursor"]
        )
        return page_response(
            WebhookSchema(many=True).dump(items), next_cursor, WEBHOOK_COLUMNS, "json"
        )

    @blp.arguments(WebhookCreateSchema())
    @blp.response(201, WebhookCreatedSchema)
    def post(self, data):
        """Subscribe a URL to changes; the answer carries the signing secret, shown this once."""
        allow_private = current_app.config["WEBHOOK_ALLOW_PRIVATE"]
        webhook, secret = create_webhook(get_session(), data, current_token_name(), allow_private)
        body = {**WebhookSchema().dump(webhook), "secret": secret}
        return json_response(body, 201, {"Location": f"/api/v1/webhooks/{webhook.id}"})


@blp.route("/webhooks/<int:webhook_id>")
class WebhookDetail(MethodView):
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """One subscription."""
        require_scope(authenticate(), MANAGE)
        return get_webhook_or_404(webhook_id)

    @blp.response(204)
    def delete(self, webhook_id):
        """Remove a subscription and its deliveries."""
        if not remove_webhook(get_session(), webhook_id):
            raise not_found("webhook", str(webhook_id))
        return "", 204


@blp.route("/webhooks/<int:webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(ListArgsSchema(), location="query")
    @blp.response(200, DeliveryPageSchema)
    def get(self, args, webhook_id):
        """The webhook's deliveries, oldest first, each with every attempt."""
        require_scope(authenticate(), MANAGE)
        session = get_session()
        webhook = get_webhook_or_404(webhook_id)
        statement = select(Delivery).where(Delivery.webhook_id == webhook.id)
        items, next_cursor = paginate(
            session, statement, [Delivery.id], [int], args["limit"], args["cursor"]
        )
        return page_response(
            DeliverySchema(many=True).dump(items), next_cursor, DELIVERY_COLUMNS, "json"
        )


@blp.route("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/retry")
class Retry(MethodView):
    @blp.response(202, DeliverySchema)
    def post(self, webhook_id, delivery_id):
        """Send a delivery again now (and re-enable its webhook if it was disabled)."""
        session = get_session()
        webhook = get_webhook_or_404(webhook_id)
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.webhook_id != webhook.id:
            raise not_found("delivery", str(delivery_id))
        now = utcnow()
        delivery.status = "pending"
        delivery.next_attempt_at = now
        delivery.lease_until = None
        delivery.leased_by = None
        delivery.finished_at = None
        # Re-sending starts the retry window afresh.
        delivery.created_at = now
        webhook.disabled_at = None
        webhook.disabled_reason = None
        webhook.failing_since = None
        session.flush()
        return delivery, 202
