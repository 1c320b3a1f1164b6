"""Partial indexes: no entries for the NULL keys of group, instrument, supersedes, announcement.

An event belongs to a group or to an instrument, never both, and almost never supersedes
another; almost every source is an event's, not an announcement's. The full indexes gave
every row an entry under a NULL key in four of them, which no query reads: writing those
entries was most of the cost of a bulk import. The partial indexes keep the same columns
and order, so every query that used an index still can (its WHERE names the non-NULL key).

Revision ID: c7d2e5f8a913
Revises: b41c7e2d9f10
Create Date: 2026-11-25 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7d2e5f8a913"
down_revision: str | None = "b41c7e2d9f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, columns, the non-NULL key that the partial index is restricted to)
EVENT_INDEXES = (
    ("ix_events_group_timeline", ["group_id", "participant_id", "effective_on", "id"], "group_id"),
    (
        "ix_events_instrument_timeline",
        ["instrument_id", "participant_id", "effective_on", "id"],
        "instrument_id",
    ),
    ("ix_events_group_effective_on", ["group_id", "effective_on", "id"], "group_id"),
    ("ix_events_instrument_effective_on", ["instrument_id", "effective_on", "id"], "instrument_id"),
)


def _where(column: str) -> dict:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_supersedes_id", type_="unique")
        for name, _, _ in EVENT_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name, columns, key in EVENT_INDEXES:
            batch_op.create_index(name, columns, unique=False, **_where(key))
        batch_op.create_index(
            "uq_events_supersedes_id", ["supersedes_id"], unique=True, **_where("supersedes_id")
        )
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index("ix_sources_announcement_id")
        batch_op.create_index(
            "ix_sources_announcement_id",
            ["announcement_id"],
            unique=False,
            **_where("announcement_id"),
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index("ix_sources_announcement_id")
        batch_op.create_index("ix_sources_announcement_id", ["announcement_id"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("uq_events_supersedes_id")
        for name, _, _ in EVENT_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_events_supersedes_id", ["supersedes_id"])
        for name, columns, _ in EVENT_INDEXES:
            batch_op.create_index(name, columns, unique=False)
