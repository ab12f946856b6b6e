"""An adaptive camera's frame-rate bounds, from its node's health (issue 14).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("min_fps", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_fps", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("max_fps")
        batch.drop_column("min_fps")
