"""memory: a verbatim turn that opens with a pronoun links to the memory of the turn before

Revision ID: memory_0002
Revises: memory_0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "memory_0002"
down_revision = "memory_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memory_item") as batch:
        batch.add_column(sa.Column("context_id", sa.String(36), nullable=True))
    op.create_index("ix_memory_item_scope_context", "memory_item", ["org_id", "customer_ref", "context_id"])


def downgrade() -> None:
    op.drop_index("ix_memory_item_scope_context", table_name="memory_item")
    with op.batch_alter_table("memory_item") as batch:
        batch.drop_column("context_id")
