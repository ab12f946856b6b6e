"""Initial schema: users, nodes, cameras, zones, events, occupancy aggregates, heatmap, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.db.types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("open_key", sa.String(length=220), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("camera", sa.String(length=64), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("limit", sa.Integer(), nullable=True),
        sa.Column("peak", sa.Integer(), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("reopened_at", UtcDateTime(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("escalated_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_key_resolved", ["site", "rule", "subject", "resolved_at"], unique=False
        )
        batch_op.create_index("ix_alerts_opened_at", ["opened_at"], unique=False)
        batch_op.create_index("ix_alerts_site_status", ["site", "status"], unique=False)
        batch_op.create_index("ix_alerts_updated_at", ["updated_at"], unique=False)

    op.create_table(
        "cameras",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("frames_dropped", sa.BigInteger(), nullable=True),
        sa.Column("reconnects", sa.BigInteger(), nullable=True),
        sa.Column("last_frame_ts", UtcDateTime(), nullable=True),
        sa.Column("health_at", UtcDateTime(), nullable=True),
        sa.Column("lost_since", UtcDateTime(), nullable=True),
        sa.Column("lost_reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("site", "camera", name=op.f("pk_cameras")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("limit", sa.Integer(), nullable=True),
        sa.Column("people", sa.JSON(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("floor_x", sa.Float(), nullable=True),
        sa.Column("floor_y", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_site_ts", ["site", "ts"], unique=False)
        batch_op.create_index("ix_events_site_type_ts", ["site", "type", "ts"], unique=False)

    op.create_table(
        "heatmap_hour",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("bucket", UtcDateTime(), nullable=False),
        sa.Column("cell_x", sa.Integer(), nullable=False),
        sa.Column("cell_y", sa.Integer(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site", "camera", "bucket", "cell_x", "cell_y", name=op.f("pk_heatmap_hour")),
    )
    op.create_table(
        "nodes",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.String(length=40), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("health_at", UtcDateTime(), nullable=True),
        sa.Column("uptime_s", sa.Float(), nullable=True),
        sa.Column("outbox_depth", sa.BigInteger(), nullable=True),
        sa.Column("outbox_dropped", sa.BigInteger(), nullable=True),
        sa.Column("published", sa.BigInteger(), nullable=True),
        sa.Column("rejected_config", sa.BigInteger(), nullable=True),
        sa.Column("refused", sa.BigInteger(), nullable=True),
        sa.Column("last_config_error", sa.String(length=500), nullable=True),
        sa.Column("layout", sa.JSON(), nullable=True),
        sa.Column("layout_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("site", "node", name=op.f("pk_nodes")),
    )
    op.create_table(
        "occupancy_day",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("bucket", UtcDateTime(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("sum_count", sa.Float(), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.Column("weighted_sum", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", "zone", "camera", "bucket", name=op.f("pk_occupancy_day")),
    )
    op.create_table(
        "occupancy_hour",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("bucket", UtcDateTime(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("sum_count", sa.Float(), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.Column("weighted_sum", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", "zone", "camera", "bucket", name=op.f("pk_occupancy_hour")),
    )
    op.create_table(
        "occupancy_minute",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("bucket", UtcDateTime(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("sum_count", sa.Float(), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.Column("weighted_sum", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", "zone", "camera", "bucket", name=op.f("pk_occupancy_minute")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "zones",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("limit", sa.Integer(), nullable=True),
        sa.Column("window", sa.String(length=64), nullable=True),
        sa.Column("polygon", sa.JSON(), nullable=False),
        sa.Column("line", sa.JSON(), nullable=True),
        sa.Column("cameras", sa.JSON(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site", "zone", name=op.f("pk_zones")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("zones")
    op.drop_table("users")
    op.drop_table("occupancy_minute")
    op.drop_table("occupancy_hour")
    op.drop_table("occupancy_day")
    op.drop_table("nodes")
    op.drop_table("heatmap_hour")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_site_type_ts")
        batch_op.drop_index("ix_events_site_ts")

    op.drop_table("events")
    op.drop_table("cameras")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_updated_at")
        batch_op.drop_index("ix_alerts_site_status")
        batch_op.drop_index("ix_alerts_opened_at")
        batch_op.drop_index("ix_alerts_key_resolved")

    op.drop_table("alerts")
