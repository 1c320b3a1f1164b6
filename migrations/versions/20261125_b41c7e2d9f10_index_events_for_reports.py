"""Index events by group and by instrument in timeline order, for the reports.

Revision ID: b41c7e2d9f10
Revises: a6a93a235524
Create Date: 2026-11-25 09:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b41c7e2d9f10"
down_revision: str | None = "a6a93a235524"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_group_effective_on", ["group_id", "effective_on", "id"], unique=False
        )
        batch_op.create_index(
            "ix_events_instrument_effective_on",
            ["instrument_id", "effective_on", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_instrument_effective_on")
        batch_op.drop_index("ix_events_group_effective_on")
