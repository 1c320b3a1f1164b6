"""Events record who retracted them.

A retraction or correction said when and why, not who: ``retracted_by`` names the token (or
the person at the command line) behind it. Events retracted before stay NULL: nobody knows.

Revision ID: e5b2c8d4a7f1
Revises: d3a1f0b7c2e4
Create Date: 2026-11-26 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b2c8d4a7f1"
down_revision: str | None = "d3a1f0b7c2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retracted_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("retracted_by")
