"""orders: customers, orders, items, payments, refunds, shipments and shipment events

Revision ID: orders_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "orders_0001"
down_revision = None
branch_labels = ("orders",)
depends_on = None

_ACTIVE_SQL = "status IN ('requested', 'processing', 'completed')"


def _org() -> list[sa.Column]:
    return [sa.Column("org_id", sa.String(128))]


def _order_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["org_id", "order_id"], ["ord_order.org_id", "ord_order.order_id"])


def upgrade() -> None:
    op.create_table(
        "ord_customer",
        *_org(),
        sa.Column("customer_ref", sa.String(128)),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone_e164", sa.String(16), nullable=False),
        sa.Column("phone_masked", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "customer_ref", name="pk_ord_customer"),
    )
    op.create_index("ix_ord_customer_phone", "ord_customer", ["org_id", "phone_e164"])

    op.create_table(
        "ord_order",
        *_org(),
        sa.Column("order_id", sa.String(20)),
        sa.Column("customer_ref", sa.String(128), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subtotal_krw", sa.BigInteger, nullable=False),
        sa.Column("shipping_fee_krw", sa.BigInteger, nullable=False),
        sa.Column("discount_krw", sa.BigInteger, nullable=False),
        sa.Column("total_krw", sa.BigInteger, nullable=False),
        sa.Column("recipient_masked", sa.String(50), nullable=False),
        sa.Column("ship_region", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "order_id", name="pk_ord_order"),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_ref"],
            ["ord_customer.org_id", "ord_customer.customer_ref"],
            name="fk_ord_order_org_id_ord_customer",
        ),
        sa.CheckConstraint("total_krw = subtotal_krw + shipping_fee_krw - discount_krw", name="ck_ord_order_total"),
        sa.CheckConstraint(
            "subtotal_krw >= 0 AND shipping_fee_krw >= 0 AND discount_krw >= 0 AND total_krw >= 0",
            name="ck_ord_order_amounts",
        ),
    )
    op.create_index("ix_ord_order_customer", "ord_order", ["org_id", "customer_ref", "ordered_at"])

    op.create_table(
        "ord_order_item",
        *_org(),
        sa.Column("order_id", sa.String(20)),
        sa.Column("line_no", sa.Integer),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("product_name", sa.String(200), nullable=False),
        sa.Column("option_text", sa.String(200), nullable=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_krw", sa.BigInteger, nullable=False),
        sa.Column("amount_krw", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "order_id", "line_no", name="pk_ord_order_item"),
        _order_fk(),
        sa.CheckConstraint(
            "quantity > 0 AND unit_price_krw >= 0 AND amount_krw = quantity * unit_price_krw",
            name="ck_ord_order_item_amount",
        ),
    )

    op.create_table(
        "ord_payment",
        *_org(),
        sa.Column("order_id", sa.String(20)),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_krw", sa.BigInteger, nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "order_id", name="pk_ord_payment"),
        _order_fk(),
    )

    op.create_table(
        "ord_refund",
        *_org(),
        sa.Column("refund_id", sa.String(32)),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_krw", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("request_sha256", sa.String(64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processing_days", sa.Integer, nullable=False),
        sa.Column("expected_completion_date", sa.Date, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "refund_id", name="pk_ord_refund"),
        _order_fk(),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_ord_refund_idempotency"),
    )
    op.create_index("ix_ord_refund_order", "ord_refund", ["org_id", "order_id"])
    op.create_index(
        "uq_ord_refund_one_active",
        "ord_refund",
        ["org_id", "order_id"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE_SQL),
        postgresql_where=sa.text(_ACTIVE_SQL),
    )

    op.create_table(
        "ord_shipment",
        *_org(),
        sa.Column("order_id", sa.String(20)),
        sa.Column("carrier_code", sa.String(20), nullable=False),
        sa.Column("carrier_name", sa.String(50), nullable=False),
        sa.Column("tracking_number", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "order_id", name="pk_ord_shipment"),
        _order_fk(),
    )

    op.create_table(
        "ord_shipment_event",
        *_org(),
        sa.Column("order_id", sa.String(20)),
        sa.Column("seq", sa.Integer),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("location", sa.String(100), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "order_id", "seq", name="pk_ord_shipment_event"),
        sa.ForeignKeyConstraint(
            ["org_id", "order_id"],
            ["ord_shipment.org_id", "ord_shipment.order_id"],
            name="fk_ord_shipment_event_org_id_ord_shipment",
        ),
    )


def downgrade() -> None:
    for name in ("ord_shipment_event", "ord_shipment", "ord_refund", "ord_payment", "ord_order_item", "ord_order"):
        op.drop_table(name)
    op.drop_table("ord_customer")
