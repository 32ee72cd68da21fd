"""The order server's tables (SQLAlchemy Core). Every row belongs to one tenant (``org_id``).

Keys are per tenant: two tenants may both have an order "8841". Money is KRW in integers;
timestamps are stored in UTC and shown in Korea time (+09:00). Phone numbers are kept in
E.164 form for lookup and in masked form for display; they are never returned unmasked.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)

from core.db import metadata
from servers.order_server.ids import ORDER_ID_PATTERN as ORDER_ID_PATTERN  # re-exported

ORG = 128  # org ids and customer refs: core.context identifiers
ORDER_ID = 20

customer = Table(
    "ord_customer",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("customer_ref", String(ORG), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone_key", String(64), nullable=False),  # HMAC of the E.164 number (phonekey.py), never the number
    Column("phone_masked", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ord_customer_phone", "org_id", "phone_key"),
)

order = Table(
    "ord_order",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("order_id", String(ORDER_ID), primary_key=True),
    Column("customer_ref", String(ORG), nullable=False),
    Column("status", String(20), nullable=False),
    Column("ordered_at", DateTime(timezone=True), nullable=False),
    Column("subtotal_krw", BigInteger, nullable=False),
    Column("shipping_fee_krw", BigInteger, nullable=False),
    Column("discount_krw", BigInteger, nullable=False),
    Column("total_krw", BigInteger, nullable=False),
    Column("recipient_masked", String(50), nullable=False),
    Column("ship_region", String(100), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["org_id", "customer_ref"], ["ord_customer.org_id", "ord_customer.customer_ref"]),
    CheckConstraint("total_krw = subtotal_krw + shipping_fee_krw - discount_krw", name="total"),
    CheckConstraint(
        "subtotal_krw >= 0 AND shipping_fee_krw >= 0 AND discount_krw >= 0 AND total_krw >= 0", name="amounts"
    ),
    Index("ix_ord_order_customer", "org_id", "customer_ref", "ordered_at"),
)

order_item = Table(
    "ord_order_item",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("order_id", String(ORDER_ID), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("option_text", String(200), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_krw", BigInteger, nullable=False),
    Column("amount_krw", BigInteger, nullable=False),
    ForeignKeyConstraint(["org_id", "order_id"], ["ord_order.org_id", "ord_order.order_id"]),
    CheckConstraint("quantity > 0 AND unit_price_krw >= 0 AND amount_krw = quantity * unit_price_krw", name="amount"),
)

payment = Table(
    "ord_payment",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("order_id", String(ORDER_ID), primary_key=True),
    Column("method", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("amount_krw", BigInteger, nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(["org_id", "order_id"], ["ord_order.org_id", "ord_order.order_id"]),
)

ACTIVE_REFUND_STATES = ("requested", "processing", "completed")
_ACTIVE_SQL = "status IN ('requested', 'processing', 'completed')"

refund = Table(
    "ord_refund",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("refund_id", String(32), primary_key=True),
    Column("order_id", String(ORDER_ID), nullable=False),
    Column("status", String(20), nullable=False),
    Column("amount_krw", BigInteger, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("request_sha256", String(64), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("processing_days", Integer, nullable=False),
    Column("expected_completion_date", Date, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(["org_id", "order_id"], ["ord_order.org_id", "ord_order.order_id"]),
    UniqueConstraint("org_id", "idempotency_key", name="uq_ord_refund_idempotency"),
    Index("ix_ord_refund_order", "org_id", "order_id"),
    # A refund is always for the whole remaining amount: at most one live refund per order.
    Index(
        "uq_ord_refund_one_active",
        "org_id",
        "order_id",
        unique=True,
        sqlite_where=text(_ACTIVE_SQL),
        postgresql_where=text(_ACTIVE_SQL),
    ),
)

shipment = Table(
    "ord_shipment",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("order_id", String(ORDER_ID), primary_key=True),
    Column("carrier_code", String(20), nullable=False),
    Column("carrier_name", String(50), nullable=False),
    Column("tracking_number", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("shipped_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(["org_id", "order_id"], ["ord_order.org_id", "ord_order.order_id"]),
)

shipment_event = Table(
    "ord_shipment_event",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("order_id", String(ORDER_ID), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("location", String(100), nullable=False),
    Column("description", String(200), nullable=False),
    ForeignKeyConstraint(["org_id", "order_id"], ["ord_shipment.org_id", "ord_shipment.order_id"]),
)

# A refund waiting for the customer's yes (request_refund from a direct client; docs/orders.md).
# Kept beside the shop's data whatever the order backend is: it is Switchboard's own state.
refund_confirmation = Table(
    "ord_refund_confirmation",
    metadata,
    Column("org_id", String(ORG), primary_key=True),
    Column("confirmation_id", String(40), primary_key=True),
    Column("customer_ref", String(ORG), nullable=True),
    Column("order_id", String(ORDER_ID), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("product", String(200), nullable=False),
    Column("amount_krw", BigInteger, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("refund_id", String(32), nullable=True),
    CheckConstraint("status IN ('pending', 'confirmed', 'declined', 'expired')", name="status"),
    Index("ix_ord_refund_confirmation_key", "org_id", "idempotency_key"),
)

ALL_TABLES = (customer, order, order_item, payment, refund, shipment, shipment_event, refund_confirmation)
