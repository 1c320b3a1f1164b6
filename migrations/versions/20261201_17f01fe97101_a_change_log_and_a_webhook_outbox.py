"""A change log and a webhook outbox: what the registry learned, and who is to be told.

``changes`` gets one row per fact recorded, retracted or corrected and per registration, in the
writing transaction; ``deliveries`` is the outbox of webhook deliveries written beside it, and
``delivery_attempts`` keeps every try.

Revision ID: 17f01fe97101
Revises: d3a9b8c1e702
Create Date: 2026-12-01 08:48:22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "17f01fe97101"
down_revision: str | None = "d3a9b8c1e702"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The change types of this revision (the models' CHANGE_TYPES then).
CHANGE_TYPES = ", ".join(
    repr(f"{kind}.{verb}")
    for kind, verbs in (
        ("event", ("recorded", "retracted", "corrected")),
        ("announcement", ("recorded", "corrected", "retracted")),
        ("participant", ("registered", "renamed")),
        ("group", ("registered", "renamed")),
        ("instrument", ("registered", "renamed")),
    )
    for verb in verbs
)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("groups", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("instruments", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("participants", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("types", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            f"type IN ({CHANGE_TYPES})",
            name=op.f("ck_changes_type"),
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_changes_announcement_id_announcements"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_changes_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_changes_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"], ["instruments.id"], name=op.f("fk_changes_instrument_id_instruments")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_changes_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_event_id", ["event_id"], unique=False)
        batch_op.create_index("ix_changes_group_id", ["group_id", "txid", "id"], unique=False)
        batch_op.create_index(
            "ix_changes_instrument_id", ["instrument_id", "txid", "id"], unique=False
        )
        batch_op.create_index(
            "ix_changes_participant_id", ["participant_id", "txid", "id"], unique=False
        )
        batch_op.create_index("ix_changes_position", ["txid", "id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["changes.id"], name=op.f("fk_deliveries_change_id_changes")
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_deliveries_webhook_id", ["webhook_id", "id"], unique=False)

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_attempts_delivery_id", ["delivery_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_delivery_id")

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_webhook_id")
        batch_op.drop_index("ix_deliveries_due")

    op.drop_table("deliveries")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_position")
        batch_op.drop_index("ix_changes_participant_id")
        batch_op.drop_index("ix_changes_instrument_id")
        batch_op.drop_index("ix_changes_group_id")
        batch_op.drop_index("ix_changes_event_id")

    op.drop_table("changes")
    op.drop_table("webhooks")
