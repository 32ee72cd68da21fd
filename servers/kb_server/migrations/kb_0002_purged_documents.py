"""documents purged from every KB version (kb purge-doc): who, when, why

Revision ID: kb_0002
Revises: kb_0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "kb_0002"
down_revision = "kb_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_purged_document",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("kb_id", sa.String(40), nullable=False),
        sa.Column("doc_id", sa.String(200), nullable=False),
        sa.Column("versions", sa.String(2000), nullable=False),
        sa.Column("n_revisions", sa.Integer, nullable=False),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_purged_kb"),
    )
    op.create_index("ix_kb_purged_kb_doc", "kb_purged_document", ["kb_id", "doc_id"])


def downgrade() -> None:
    op.drop_index("ix_kb_purged_kb_doc", table_name="kb_purged_document")
    op.drop_table("kb_purged_document")
