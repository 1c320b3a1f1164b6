"""Events keep their place among same-day events when a correction changes only their note.

A correction retracts an event and records its replacement, which has a new, larger id. The
rules and reports order same-day events by id, so the replacement of an accession followed the
same day by a withdrawal sorted after the withdrawal and the correction was refused. ``place``
(NULL for every event so far: its place is its id) lets a replacement stand where the event it
replaces stood.

Revision ID: d3a9b8c1e702
Revises: d3a9f1c4b7e2
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a9b8c1e702"
down_revision: str | None = "d3a9f1c4b7e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("place", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("place")
