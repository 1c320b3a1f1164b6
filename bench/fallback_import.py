"""TEMPORARY: stands in for ``friendsgroup import`` until the CLI has it. Remove then."""

import json
import sys

from sqlalchemy import select

from friendsgroup import create_app
from friendsgroup.db import get_db
from friendsgroup.history import record_event
from friendsgroup.models import Group, Instrument
from friendsgroup.schemas import CommitmentCreateSchema, EventCreateSchema, ReportCreateSchema

SCHEMAS = {"commitment": CommitmentCreateSchema(), "report": ReportCreateSchema()}


def main(path: str) -> None:
    app = create_app()
    with app.app_context(), get_db(app).transaction() as session:
        targets = {}
        count = 0
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                kind = raw.pop("type")
                key = "group" if "group" in raw else "instrument"
                slug = raw.pop(key)
                if (key, slug) not in targets:
                    model = Group if key == "group" else Instrument
                    targets[key, slug] = session.scalars(
                        select(model).where(model.slug == slug)
                    ).one()
                data = SCHEMAS.get(kind, EventCreateSchema()).load(raw)
                record_event(session, targets[key, slug], kind, data, "import")
                count += 1
    print(f"imported {count} events")


if __name__ == "__main__":
    main(sys.argv[1])
