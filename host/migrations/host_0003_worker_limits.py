"""host workers: liveness, shared connection leases, per-tenant rate windows, session owners

Revision ID: host_0003
Revises: host_0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "host_0003"
down_revision = "host_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_worker",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("address", sa.String(255)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_table(
        "host_connection",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_host_connection_org", "host_connection", ["org_id"])
    op.create_index("ix_host_connection_worker", "host_connection", ["worker_id"])
    op.create_table(
        "host_rate_window",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.Integer, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "host_session_owner",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("host_session_owner")
    op.drop_table("host_rate_window")
    op.drop_index("ix_host_connection_worker", table_name="host_connection")
    op.drop_index("ix_host_connection_org", table_name="host_connection")
    op.drop_table("host_connection")
    op.drop_table("host_worker")
