"""Where on the floor an alert is (a spacing alert's pair), for the pages' floor plans (issue 13).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("floor_x", sa.Float(), nullable=True))
        batch.add_column(sa.Column("floor_y", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("floor_y")
        batch.drop_column("floor_x")
