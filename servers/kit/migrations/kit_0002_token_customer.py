"""api tokens may be bound to one customer

Revision ID: kit_0002
Revises: kit_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "kit_0002"
down_revision = "kit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("customer_ref", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("customer_ref")
