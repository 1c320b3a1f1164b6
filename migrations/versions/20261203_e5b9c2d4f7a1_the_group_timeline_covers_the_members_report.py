"""The group timeline index covers the members report: it reads the index, not the table.

The members report reads, for each event of the group dated on or before ``as_of``, its
participant, type, dates, place and recorded and retracted instants. Through the timeline
index alone it found the rows, then read each from the table, where a group's events lie
among every other group's: 578 table pages for the 900 events of one group in a registry of
250,000 events, and more as the registry grows. With those columns in the index after its key
the report reads a dozen index pages, at any size of the registry. The key's order (group,
participant, date, id) is unchanged, so every query that used the index still does.

Revision ID: e5b9c2d4f7a1
Revises: b8e3f5a1c6d9
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b9c2d4f7a1"
down_revision: str | None = "b8e3f5a1c6d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_events_group_timeline"
KEY = ["group_id", "participant_id", "effective_on", "id"]
COVERED = ["type", "earliest_on", "recorded_at", "retracted_at", "place"]


def _recreate(columns: list[str]) -> None:
    where = sa.text("group_id IS NOT NULL")
    with op.batch_alter_table("events") as batch:
        batch.drop_index(NAME)
        batch.create_index(NAME, columns, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _recreate(KEY + COVERED)


def downgrade() -> None:
    _recreate(KEY)
