"""knowledge bases, document revisions, chunks, versions, vector progress

Revision ID: kb_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "kb_0001"
down_revision = None
branch_labels = ("kb",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_base",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("current_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_knowledge_base_org_name"),
    )
    op.create_table(
        "kb_document",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("kb_id", sa.String(40), nullable=False),
        sa.Column("doc_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False, server_default=""),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        sa.Column("n_pages", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_document_kb"),
        sa.UniqueConstraint("kb_id", "doc_id", "content_sha256", name="uq_kb_document_revision"),
    )
    op.create_index("ix_kb_document_org_kb_doc", "kb_document", ["org_id", "kb_id", "doc_id"])
    op.create_table(
        "kb_chunk",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("kb_id", sa.String(40), nullable=False),
        sa.Column("revision_id", sa.String(40), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("section", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["revision_id"], ["kb_document.id"], ondelete="CASCADE", name="fk_kb_chunk_revision"),
    )
    op.create_index("ix_kb_chunk_revision", "kb_chunk", ["revision_id", "ordinal"])
    op.create_index("ix_kb_chunk_kb_text", "kb_chunk", ["kb_id", "text_sha256"])
    op.create_table(
        "kb_version",
        sa.Column("kb_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("change", sa.String(20), nullable=False),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("n_documents", sa.Integer, nullable=False),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_version_kb"),
    )
    op.create_table(
        "kb_version_document",
        sa.Column("kb_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("revision_id", sa.String(40), primary_key=True),
        sa.ForeignKeyConstraint(
            ["kb_id", "version"],
            ["kb_version.kb_id", "kb_version.version"],
            ondelete="CASCADE",
            name="fk_kb_vd_version",
        ),
        sa.ForeignKeyConstraint(["revision_id"], ["kb_document.id"], ondelete="CASCADE", name="fk_kb_vd_revision"),
    )
    op.create_table(
        "kb_vector",
        sa.Column("kb_id", sa.String(40), primary_key=True),
        sa.Column("model_id", sa.String(200), primary_key=True),
        sa.Column("text_sha256", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_vector_kb"),
    )


def downgrade() -> None:
    for name in ("kb_vector", "kb_version_document", "kb_version", "kb_chunk", "kb_document", "knowledge_base"):
        op.drop_table(name)
