"""Index changes by type: the reports' change stamp counts participant renames.

A report names its members, so a rename must move every group's stamp (reports.stamps);
counting the renames among all changes would otherwise read the whole change log on every
members request.

Revision ID: a9c4e2f7d1b3
Revises: f7c3d9e1b5a2
Create Date: 2026-12-01 12:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a9c4e2f7d1b3"
down_revision: str | None = "f7c3d9e1b5a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_changes_type_recorded_at", "changes", ["type", "recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_changes_type_recorded_at", table_name="changes")
