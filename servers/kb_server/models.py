"""KB tables (SQLAlchemy Core). Every row carries ``org_id``; every query filters on it.

- ``knowledge_base``: one per (org, name); ``is_active`` decides whether it is searched;
  ``current_version`` is the latest version (0 = no documents yet).
- ``kb_document``: an immutable document revision (doc_id = the tenant's key within the KB,
  content_sha256 = hash of the uploaded bytes). Updating a document adds a revision.
- ``kb_chunk``: a passage of a revision with a stable id, its page or section, and its lexical tokens.
- ``kb_version`` + ``kb_version_document``: immutable versions and the revisions each contains.
- ``kb_vector``: which chunk texts have vectors in Chroma, per embedding model (resumable embedding).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.db import metadata

knowledge_base = Table(
    "knowledge_base",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("current_version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_id", "name", name="uq_knowledge_base_org_name"),
)

kb_document = Table(
    "kb_document",
    metadata,
    Column("id", String(40), primary_key=True),  # revision id
    Column("org_id", String(128), nullable=False),
    Column("kb_id", String(40), nullable=False),
    Column("doc_id", String(200), nullable=False),
    Column("title", String(500), nullable=False),
    Column("source", String(1000), nullable=False, default=""),
    Column("mime_type", String(100), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("n_chunks", Integer, nullable=False),
    Column("n_pages", Integer, nullable=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_document_kb"),
    UniqueConstraint("kb_id", "doc_id", "content_sha256", name="uq_kb_document_revision"),
    Index("ix_kb_document_org_kb_doc", "org_id", "kb_id", "doc_id"),
)

kb_chunk = Table(
    "kb_chunk",
    metadata,
    Column("id", String(40), primary_key=True),  # chunk_id
    Column("org_id", String(128), nullable=False),
    Column("kb_id", String(40), nullable=False),
    Column("revision_id", String(40), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("text_sha256", String(64), nullable=False),  # of the embedded text (title/section + text)
    Column("tokens", Text, nullable=False),  # lexical tokens, space separated
    Column("page", Integer, nullable=True),
    Column("section", String(500), nullable=True),
    ForeignKeyConstraint(["revision_id"], ["kb_document.id"], ondelete="CASCADE", name="fk_kb_chunk_revision"),
    Index("ix_kb_chunk_revision", "revision_id", "ordinal"),
    Index("ix_kb_chunk_kb_text", "kb_id", "text_sha256"),
)

kb_version = Table(
    "kb_version",
    metadata,
    Column("kb_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("change", String(20), nullable=False),  # upload | update | delete | batch
    Column("summary", String(1000), nullable=False),  # which documents changed
    Column("n_documents", Integer, nullable=False),
    Column("n_chunks", Integer, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_version_kb"),
)

kb_version_document = Table(
    "kb_version_document",
    metadata,
    Column("kb_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("revision_id", String(40), primary_key=True),
    ForeignKeyConstraint(
        ["kb_id", "version"], ["kb_version.kb_id", "kb_version.version"], ondelete="CASCADE", name="fk_kb_vd_version"
    ),
    ForeignKeyConstraint(["revision_id"], ["kb_document.id"], ondelete="CASCADE", name="fk_kb_vd_revision"),
)

kb_vector = Table(
    "kb_vector",
    metadata,
    Column("kb_id", String(40), primary_key=True),
    Column("model_id", String(200), primary_key=True),
    Column("text_sha256", String(64), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("embedded_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_vector_kb"),
)

# A document purged from every version (``switchboard kb purge-doc``): who, when, why; never its text
# nor its title (a title may name the customer a letter was about).
kb_purged_document = Table(
    "kb_purged_document",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("kb_id", String(40), nullable=False),
    Column("doc_id", String(200), nullable=False),
    Column("versions", String(2000), nullable=False),  # the versions that held it, "1,2"
    Column("n_revisions", Integer, nullable=False),
    Column("n_chunks", Integer, nullable=False),
    Column("purged_at", DateTime(timezone=True), nullable=False),
    Column("purged_by", String(200), nullable=False),
    Column("reason", String(1000), nullable=False),
    ForeignKeyConstraint(["kb_id"], ["knowledge_base.id"], ondelete="CASCADE", name="fk_kb_purged_kb"),
    Index("ix_kb_purged_kb_doc", "kb_id", "doc_id"),
)
