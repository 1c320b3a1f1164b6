"""Scoped, expiring, rotatable tokens and the append-only audit trail.

A token may now be narrowed to scopes and given an expiry; its last use is kept, and a
rotation keeps the old secret working for a grace period. Tokens made before keep every
right (``scopes`` NULL). ``audit_entries`` records every write: who, when, which request,
what it asked, how it ended, and which rows it created or retracted.

Revision ID: d3a9f1c4b7e2
Revises: c7d2e5f8a913
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a9f1c4b7e2"
down_revision: str | None = "c7d2e5f8a913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("previous_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_ends_at", sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_api_tokens_previous_hash"), ["previous_hash"]
        )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=2000), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("problem", sa.String(length=100), nullable=True),
        sa.Column("rows", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('success', 'refused')", name=op.f("ck_audit_entries_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_at", ["at", "id"], unique=False)
        batch_op.create_index("ix_audit_entries_by", ["by", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_by")
        batch_op.drop_index("ix_audit_entries_at")
    op.drop_table("audit_entries")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_tokens_previous_hash"), type_="unique")
        batch_op.drop_column("previous_ends_at")
        batch_op.drop_column("previous_hash")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scopes")
