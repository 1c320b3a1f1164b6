"""Index group events for the members report: its pending accessions and its change stamp.

The members report lists accessions still pending on ``as_of`` (``earliest_on <= as_of <
effective_on``). Without an index on ``earliest_on`` that part read every event of the group
dated after ``as_of``: on an early date, nearly the whole history. Only events with an
uncertain date have an entry, a few percent of them.

Every members request reads the group's change stamp (counts, latest recorded and retracted
instants); ``ix_events_group_recorded`` answers it from the index alone.

Revision ID: d4e8a1b7c3f2
Revises: d3a8f1c2e7b4
Create Date: 2026-12-01 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4e8a1b7c3f2"
down_revision: str | None = "d3a8f1c2e7b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, columns, the condition of the partial index)
INDEXES = (
    (
        "ix_events_group_earliest_on",
        ["group_id", "earliest_on"],
        "group_id IS NOT NULL AND earliest_on IS NOT NULL",
    ),
    (
        "ix_events_group_recorded",
        ["group_id", "recorded_at", "retracted_at"],
        "group_id IS NOT NULL",
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, columns, condition in INDEXES:
            where = sa.text(condition)
            batch.create_index(name, columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, _, _ in reversed(INDEXES):
            batch.drop_index(name)
