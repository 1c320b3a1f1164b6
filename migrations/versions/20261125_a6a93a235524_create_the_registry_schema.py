"""Create the registry schema: participants, groups, instruments, events, sources,
announcements, API tokens and idempotency keys.

Revision ID: a6a93a235524
Revises:
Create Date: 2026-11-25 08:54:20.594810
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6a93a235524"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=False),
        sa.Column("admits_country", sa.Boolean(), nullable=False),
        sa.Column("admits_region", sa.Boolean(), nullable=False),
        sa.Column("admits_organisation", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "admits_country OR admits_region OR admits_organisation",
            name=op.f("ck_groups_admits_some_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("slug", name=op.f("uq_groups_slug")),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=True),
        sa.Column("sub_region", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('country', 'region', 'organisation')", name=op.f("ck_participants_kind")
        ),
        sa.CheckConstraint(
            "region IS NULL OR kind = 'country'",
            name=op.f("ck_participants_region_only_for_countries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("code", name=op.f("uq_participants_code")),
    )
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_announcements_count_not_negative")),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_announcements_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index("ix_announcements_group_as_of", ["group_id", "as_of"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_idempotency_keys_token_id_api_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("token_id", "key", name="uq_idempotency_keys_token_key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_created_at", ["created_at"], unique=False)

    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("short_name", sa.String(length=300), nullable=True),
        sa.Column("adopted_on", sa.Date(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_instruments_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("slug", name=op.f("uq_instruments_slug")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("earliest_on", sa.Date(), nullable=True),
        sa.Column("provisions", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("retracted_at", sa.DateTime(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "group_id IS NULL OR type IN ('accession', 'withdrawal')",
            name=op.f("ck_events_group_event_type"),
        ),
        sa.CheckConstraint(
            "instrument_id IS NULL OR type IN ('commitment', 'report', 'withdrawal')",
            name=op.f("ck_events_instrument_event_type"),
        ),
        sa.CheckConstraint(
            "provisions IS NULL OR type = 'commitment'",
            name=op.f("ck_events_provisions_only_for_commitments"),
        ),
        sa.CheckConstraint(
            "type IN ('accession', 'withdrawal', 'commitment', 'report')",
            name=op.f("ck_events_type"),
        ),
        sa.CheckConstraint(
            "(group_id IS NULL) <> (instrument_id IS NULL)",
            name=op.f("ck_events_one_group_or_instrument"),
        ),
        sa.CheckConstraint(
            "(retracted_at IS NULL) = (retraction_reason IS NULL)",
            name=op.f("ck_events_retraction_has_reason"),
        ),
        sa.CheckConstraint(
            "earliest_on IS NULL OR earliest_on <= effective_on",
            name=op.f("ck_events_earliest_not_after"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_events_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"], ["instruments.id"], name=op.f("fk_events_instrument_id_instruments")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_events_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["events.id"], name=op.f("fk_events_supersedes_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_events_supersedes_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_group_timeline",
            ["group_id", "participant_id", "effective_on", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_instrument_timeline",
            ["instrument_id", "participant_id", "effective_on", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_participant", ["participant_id", "effective_on", "id"], unique=False
        )

    op.create_table(
        "provisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.CheckConstraint("number >= 1", name=op.f("ck_provisions_number_positive")),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_provisions_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisions")),
        sa.UniqueConstraint("instrument_id", "number", name="uq_provisions_instrument_number"),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("publisher", sa.String(length=300), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("reliability", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "reliability IN ('official', 'reported', 'unverified')",
            name=op.f("ck_sources_reliability"),
        ),
        sa.CheckConstraint(
            "(event_id IS NULL) <> (announcement_id IS NULL)",
            name=op.f("ck_sources_one_event_or_announcement"),
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_sources_announcement_id_announcements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_sources_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
    )
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sources_announcement_id"), ["announcement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sources_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sources_event_id"))
        batch_op.drop_index(batch_op.f("ix_sources_announcement_id"))

    op.drop_table("sources")
    op.drop_table("provisions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_participant")
        batch_op.drop_index("ix_events_instrument_timeline")
        batch_op.drop_index("ix_events_group_timeline")

    op.drop_table("events")
    op.drop_table("instruments")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created_at")

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_group_as_of")

    op.drop_table("announcements")
    op.drop_table("participants")
    op.drop_table("groups")
    op.drop_table("api_tokens")
