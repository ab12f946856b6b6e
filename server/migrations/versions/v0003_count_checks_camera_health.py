"""Count checks (the accuracy audit) and camera health against its configured frame rate (issue 13).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.db.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "count_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("true_count", sa.Integer(), nullable=False),
        sa.Column("measured_count", sa.Integer(), nullable=True),
        sa.Column("checked_at", UtcDateTime(), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_checks")),
    )
    op.create_index("ix_count_checks_site_checked_at", "count_checks", ["site", "checked_at"], unique=False)
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("target_fps", sa.Float(), nullable=True))
        batch.add_column(sa.Column("frames_dropped_recent", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("frames_dropped_recent")
        batch.drop_column("target_fps")
    op.drop_index("ix_count_checks_site_checked_at", table_name="count_checks")
    op.drop_table("count_checks")
