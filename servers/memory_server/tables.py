"""The memory server's tables (SQLAlchemy Core on :data:`core.db.metadata`).

Every row carries ``org_id`` and ``customer_ref`` (``""`` for agent-level memories that belong to
no customer): queries always filter on both, taken from the connection context.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.db import metadata

ID = 36
REF = 128

# One row per (org, customer): the change counter that keeps in-process index caches coherent.
memory_scope = Table(
    "memory_scope",
    metadata,
    Column("org_id", String(REF), primary_key=True),
    Column("customer_ref", String(REF), primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

memory_item = Table(
    "memory_item",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("customer_ref", String(REF), nullable=False),
    Column("agent_id", String(REF), nullable=True),
    Column("run_id", String(REF), nullable=True),
    Column("text", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),  # sha256 of the normalised text (exact dedup)
    Column("tokens", Text, nullable=False),  # space-joined lexical tokens (rebuilds the index without kiwi)
    Column("kind", String(16), nullable=False),  # fact | preference | event | message | note
    Column("categories", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("slot", String(200), nullable=True),  # the subject a fact is about ("address", "contact_time")
    Column("slot_values", JSON, nullable=True),  # {"address": "부산시 해운대구 센텀로 45"}
    Column("source", String(16), nullable=False),  # text | message | extracted | model
    Column("status", String(12), nullable=False),  # active | superseded
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True), nullable=True),
    Column("superseded_by", String(ID), nullable=True),
    Column("change_seq", BigInteger, nullable=False),
    Column("vector_model", String(100), nullable=True),
    # the memory of the turn before, whose text this turn's vectors also read (passage.py)
    Column("context_id", String(ID), nullable=True),
    Index("ix_memory_item_scope_seq", "org_id", "customer_ref", "change_seq"),
    Index("ix_memory_item_scope_hash", "org_id", "customer_ref", "content_hash"),
    Index("ix_memory_item_scope_slot", "org_id", "customer_ref", "slot"),
    Index("ix_memory_item_scope_created", "org_id", "customer_ref", "created_at", "id"),
    Index("ix_memory_item_scope_context", "org_id", "customer_ref", "context_id"),
)

# Dense vectors live beside the rows (float32 bytes), so erasing a memory erases its vector in
# the same transaction and a customer's vectors load with one indexed query.
memory_vector = Table(
    "memory_vector",
    metadata,
    Column("memory_id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("customer_ref", String(REF), nullable=False),
    Column("model_id", String(100), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Index("ix_memory_vector_scope", "org_id", "customer_ref"),
)

memory_history = Table(
    "memory_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("memory_id", String(ID), nullable=False),
    Column("org_id", String(REF), nullable=False),
    Column("customer_ref", String(REF), nullable=False),
    Column("event", String(16), nullable=False),  # ADD | UPDATE | SUPERSEDE | SUPERSEDED | MERGE
    Column("old_text", Text, nullable=True),
    Column("new_text", Text, nullable=True),
    Column("actor", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_memory_history_memory", "memory_id"),
    Index("ix_memory_history_scope", "org_id", "customer_ref"),
)

# What remains of an erased memory: no text, only proof that it existed and was removed.
memory_tombstone = Table(
    "memory_tombstone",
    metadata,
    Column("memory_id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("customer_ref", String(REF), nullable=False),
    Column("content_hash", String(64), nullable=False),  # sha256(memory_id "\n" text)
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    Column("deleted_by", String(200), nullable=False),
    Column("reason", String(32), nullable=False),  # delete_memory | delete_all | erase
    Column("change_seq", BigInteger, nullable=False),
    Index("ix_memory_tombstone_scope_seq", "org_id", "customer_ref", "change_seq"),
)

memory_erasure = Table(
    "memory_erasure",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("customer_ref", String(REF), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("report", JSON, nullable=False),
)

statement_definition = Table(
    "statement_definition",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("key", String(REF), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("data_type", JSON, nullable=False),
    Column("data_source", String(64), nullable=False),
    Column("update_frequency", String(64), nullable=False),
    Column("scope", String(16), nullable=False),  # ALL | SESSION_TYPE | USER | GROUP | SESSION
    Column("definition_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("org_id", "key", "version", name="uq_statement_definition_org_key_version"),
)

statement_value = Table(
    "statement_value",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(REF), nullable=False),
    Column("key", String(REF), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("scope", String(16), nullable=False),
    Column("scope_id", String(REF), nullable=False),  # "" for ALL; customer, session, group or type id
    Column("customer_ref", String(REF), nullable=False),  # owner for USER/SESSION values, "" otherwise
    Column("value", JSON, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("replaced_at", DateTime(timezone=True), nullable=True),  # NULL = the current value
    Index("ix_statement_value_lookup", "org_id", "key", "scope", "scope_id", "customer_ref"),
    Index("ix_statement_value_customer", "org_id", "customer_ref"),
)
