"""Announcements: a bound on the total, and retraction and correction like events.

Sources state totals as "more than 60" or "about 50": ``bound`` says how the announced
count relates to the true one (``exact`` for every total recorded before). An announcement
is retracted (``retracted_at``, ``retraction_reason``, ``retracted_by``) rather than deleted,
and a correction records a replacement that ``supersedes`` it, as events do.

Revision ID: d3a1f0b7c2e4
Revises: d4e8a1b7c3f2
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a1f0b7c2e4"
down_revision: str | None = "d4e8a1b7c3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE_SUPERSEDES = sa.text("supersedes_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bound", sa.String(length=16), server_default="exact", nullable=False)
        )
        batch_op.add_column(sa.Column("retracted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("retraction_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("retracted_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_announcements_supersedes_id_announcements"),
            "announcements",
            ["supersedes_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_announcements_bound"),
            "bound IN ('exact', 'at_least', 'at_most', 'about')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_announcements_retraction_has_reason"),
            "(retracted_at IS NULL) = (retraction_reason IS NULL)",
        )
        batch_op.create_index(
            "uq_announcements_supersedes_id",
            ["supersedes_id"],
            unique=True,
            postgresql_where=WHERE_SUPERSEDES,
            sqlite_where=WHERE_SUPERSEDES,
        )


def downgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("uq_announcements_supersedes_id")
        batch_op.drop_constraint(batch_op.f("ck_announcements_retraction_has_reason"), "check")
        batch_op.drop_constraint(batch_op.f("ck_announcements_bound"), "check")
        batch_op.drop_constraint(
            batch_op.f("fk_announcements_supersedes_id_announcements"), "foreignkey"
        )
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("retracted_by")
        batch_op.drop_column("retraction_reason")
        batch_op.drop_column("retracted_at")
        batch_op.drop_column("bound")
