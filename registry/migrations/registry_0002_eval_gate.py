"""registry: eval results of agent versions and the org's minimum pass rate before approval

Revision ID: registry_0002
Revises: registry_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_eval_result",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("agent_version_id", sa.String(36), nullable=False),
        sa.Column("agent_ref", sa.String(200), nullable=False),
        sa.Column("pack", sa.String(64), nullable=False),
        sa.Column("pack_version", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("simulator", sa.String(16), nullable=False),
        sa.Column("trials", sa.Integer, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("passed", sa.Integer, nullable=False),
        sa.Column("pass_rate", sa.Float, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_eval_result_version", "agent_eval_result", ["agent_version_id", "created_at"])
    op.create_table(
        "agent_eval_gate",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("min_pass_rate", sa.Float, nullable=False),
        sa.Column("pack", sa.String(64), nullable=True),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_eval_gate")
    op.drop_index("ix_agent_eval_result_version", table_name="agent_eval_result")
    op.drop_table("agent_eval_result")
