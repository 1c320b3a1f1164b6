"""Index the deliveries in flight: a webhook worker's claim counts them per webhook.

A claim skips the webhooks that already have their share of deliveries leased. It counted
them once for every due delivery, reading the webhook's whole history each time, so that a
backlog of n deliveries made each claim cost n²; it now finds them once, from this index of
the few leased rows.

Revision ID: b8e3f5a1c6d9
Revises: a9c4e2f7d1b3
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e3f5a1c6d9"
down_revision: str | None = "a9c4e2f7d1b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEASED = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_leased",
        "deliveries",
        ["webhook_id"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_leased", table_name="deliveries")
