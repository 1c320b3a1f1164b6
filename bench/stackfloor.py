"""P3s's view: P3f's one INSERT and COMMIT, through the stack the service is built on.

The same statement on the same bare table as P3f's view (``floorapp.INSERT``), but the body
is read and checked by a marshmallow schema through flask-smorest's ``arguments``, the
INSERT runs in a SQLAlchemy session on an engine made as the service makes its own
(``friendsgroup.db.Database``, with the service's default pool and bounds), and the answer
goes out through flask-smorest's ``response`` and a marshmallow schema. Nothing of the
service's own work is in it: no token, no participant, no rule, no change log, no audit
entry, no idempotency. P3s against P3f is what the stack costs a write by itself; P3q
against P3f is what the design's SQL costs; a write must pay both, so together they bound P3
from above (row P3b).
"""

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from friendsgroup.config import Config
from friendsgroup.db import Bounds, Database

PREFIX = "/stack"


class AccessionIn(Schema):
    """The fields of an accession's body that P3 sends."""

    participant = fields.String(required=True)
    effective_on = fields.Date(required=True)


class AccessionOut(Schema):
    """A small answer, as P3f's view gives."""

    id = fields.Integer()
    group = fields.String()
    participant = fields.String()
    effective_on = fields.Date()


def register(app: Flask, url: str, insert: str, group_id: int, participant_id: int) -> None:
    """Add the view to the floor's app, running P3f's ``insert`` (the group, the participant,
    the date) on a database made as the service makes its own."""
    config = Config().as_dict()
    database = Database(url, pool_size=config["DB_POOL_SIZE"], bounds=Bounds.from_config(config))
    app.config.update(API_TITLE="bench floor", API_VERSION="1", OPENAPI_VERSION="3.1.0")
    blueprint = Blueprint("stack", __name__, url_prefix=PREFIX)

    @blueprint.route("/groups/<slug>/accessions")
    class StackAccessions(MethodView):
        @blueprint.arguments(AccessionIn)
        @blueprint.response(201, AccessionOut)
        def post(self, data, slug):
            with database.session(write=True) as session:
                values = (group_id, participant_id, data["effective_on"])
                new_id = session.connection().exec_driver_sql(insert, values).scalar_one()
                session.commit()
            return {"id": new_id, "group": slug, **data}

    Api(app).register_blueprint(blueprint)
