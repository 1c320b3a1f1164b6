"""Events and announcements remember the seed row they came from (``origin``).

``friendsgroup seed`` reconciles the seed files with the registry by this key rather than by
an event's content, so a curator's correction or retraction of a seeded fact is recognised as
such and never undone. NULL for everything not recorded from a keyed dataset.

Revision ID: d3a8f1c2e7b4
Revises: 17f01fe97101
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a8f1c2e7b4"
down_revision: str | None = "17f01fe97101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("events", "announcements")


def _where() -> dict:
    condition = sa.text("origin IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("origin", sa.String(length=300), nullable=True))
            batch_op.create_index(f"ix_{table}_origin", ["origin"], unique=False, **_where())


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_origin")
            batch_op.drop_column("origin")
