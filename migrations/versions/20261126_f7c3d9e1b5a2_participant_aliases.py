"""Participant aliases: the names people use, with a folded key that ``q`` searches.

"Turkey", "Vietnam", "South Korea" and "UK" found nothing, or the wrong country: a
participant had one name, searched case-sensitively on one database and not the other. Each
participant now has aliases (its name, ISO's common and official names, former names and
names added later), each with a key folded in Python (lower case, no accents), so that a
search is the same LIKE on SQLite and PostgreSQL. Existing participants get their standard
aliases here.

Revision ID: f7c3d9e1b5a2
Revises: e5b2c8d4a7f1
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from friendsgroup.participants import standard_aliases

revision: str = "f7c3d9e1b5a2"
down_revision: str | None = "e5b2c8d4a7f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    aliases = op.create_table(
        "participant_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.CheckConstraint(
            "kind IN ('name', 'common', 'official', 'former', 'added')",
            name=op.f("ck_participant_aliases_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_participant_aliases_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_aliases")),
        sa.UniqueConstraint("participant_id", "key", name="uq_participant_aliases_participant_key"),
    )
    participants = op.get_bind().execute(sa.text("SELECT id, code, name FROM participants"))
    rows = [
        {"participant_id": row.id, **alias}
        for row in participants
        for alias in standard_aliases(row.code, row.name)
    ]
    if rows:
        op.bulk_insert(aliases, rows)


def downgrade() -> None:
    op.drop_table("participant_aliases")
