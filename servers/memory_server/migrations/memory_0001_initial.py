"""memory: memories, vectors, history, tombstones, erasures, statement definitions and values

Revision ID: memory_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "memory_0001"
down_revision = None
branch_labels = ("memory",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def _scope() -> list[sa.Column]:
    return [
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("customer_ref", sa.String(128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "memory_scope",
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("customer_ref", sa.String(128), nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "customer_ref", name="pk_memory_scope"),
    )
    op.create_table(
        "memory_item",
        sa.Column("id", sa.String(36), nullable=False),
        *_scope(),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("slot", sa.String(200), nullable=True),
        sa.Column("slot_values", sa.JSON, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("observed_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("valid_to", TZ, nullable=True),
        sa.Column("superseded_by", sa.String(36), nullable=True),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.Column("vector_model", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_memory_item"),
    )
    op.create_index("ix_memory_item_scope_seq", "memory_item", ["org_id", "customer_ref", "change_seq"])
    op.create_index("ix_memory_item_scope_hash", "memory_item", ["org_id", "customer_ref", "content_hash"])
    op.create_index("ix_memory_item_scope_slot", "memory_item", ["org_id", "customer_ref", "slot"])
    op.create_index("ix_memory_item_scope_created", "memory_item", ["org_id", "customer_ref", "created_at", "id"])

    op.create_table(
        "memory_vector",
        sa.Column("memory_id", sa.String(36), nullable=False),
        *_scope(),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("memory_id", name="pk_memory_vector"),
    )
    op.create_index("ix_memory_vector_scope", "memory_vector", ["org_id", "customer_ref"])

    op.create_table(
        "memory_history",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("memory_id", sa.String(36), nullable=False),
        *_scope(),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("old_text", sa.Text, nullable=True),
        sa.Column("new_text", sa.Text, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_memory_history"),
    )
    op.create_index("ix_memory_history_memory", "memory_history", ["memory_id"])
    op.create_index("ix_memory_history_scope", "memory_history", ["org_id", "customer_ref"])

    op.create_table(
        "memory_tombstone",
        sa.Column("memory_id", sa.String(36), nullable=False),
        *_scope(),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("deleted_at", TZ, nullable=False),
        sa.Column("deleted_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("memory_id", name="pk_memory_tombstone"),
    )
    op.create_index("ix_memory_tombstone_scope_seq", "memory_tombstone", ["org_id", "customer_ref", "change_seq"])

    op.create_table(
        "memory_erasure",
        sa.Column("id", sa.String(36), nullable=False),
        *_scope(),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_memory_erasure"),
    )

    op.create_table(
        "statement_definition",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data_type", sa.JSON, nullable=False),
        sa.Column("data_source", sa.String(64), nullable=False),
        sa.Column("update_frequency", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("definition_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statement_definition"),
        sa.UniqueConstraint("org_id", "key", "version", name="uq_statement_definition_org_key_version"),
    )

    op.create_table(
        "statement_value",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(128), nullable=False),
        sa.Column("customer_ref", sa.String(128), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("set_at", TZ, nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("replaced_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_statement_value"),
    )
    op.create_index(
        "ix_statement_value_lookup", "statement_value", ["org_id", "key", "scope", "scope_id", "customer_ref"]
    )
    op.create_index("ix_statement_value_customer", "statement_value", ["org_id", "customer_ref"])


def downgrade() -> None:
    for name in (
        "statement_value",
        "statement_definition",
        "memory_erasure",
        "memory_tombstone",
        "memory_history",
        "memory_vector",
        "memory_item",
        "memory_scope",
    ):
        op.drop_table(name)
