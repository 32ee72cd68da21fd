"""operator console: operators, review notes, live takeovers, the actor of a turn

Revision ID: host_0002
Revises: host_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "host_0002"
down_revision = "host_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("username", sa.String(128), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200)),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_operators_org", "operators", ["org_id"])
    op.create_table(
        "review_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("review_id", sa.String(36), sa.ForeignKey("review_queue.id", ondelete="CASCADE"), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("author", sa.String(160), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_notes_review", "review_notes", ["review_id", "created_at"])
    op.create_table(
        "session_takeovers",
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("actor", sa.String(160)))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("actor")
    for name in ("session_takeovers", "review_notes", "operators"):
        op.drop_table(name)
