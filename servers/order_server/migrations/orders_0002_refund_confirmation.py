"""orders: refunds waiting for the customer's confirmation (request_refund from direct clients)

Revision ID: orders_0002
Revises: orders_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "orders_0002"
down_revision = "orders_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ord_refund_confirmation",
        sa.Column("org_id", sa.String(128)),
        sa.Column("confirmation_id", sa.String(40)),
        sa.Column("customer_ref", sa.String(128), nullable=True),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("amount_krw", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "confirmation_id", name="pk_ord_refund_confirmation"),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'declined', 'expired')", name="ck_ord_refund_confirmation_status"
        ),
    )
    op.create_index("ix_ord_refund_confirmation_key", "ord_refund_confirmation", ["org_id", "idempotency_key"])


def downgrade() -> None:
    op.drop_index("ix_ord_refund_confirmation_key", table_name="ord_refund_confirmation")
    op.drop_table("ord_refund_confirmation")
