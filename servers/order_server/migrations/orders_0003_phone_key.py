"""orders: a customer's phone number is kept as a keyed HMAC (phone_key), no longer as the number

The order store needs the number only to compare it (``find_orders``, ``verify_caller``), so it
keeps ``phonekey.phone_key(org, e164)`` beside the masked copy it already had. Every stored number
is turned into its key here, with the org's HMAC key at the time this runs (the audit log's key:
``$SWITCHBOARD_HOME/keys/audit-hmac`` or ``SWITCHBOARD_AUDIT_HMAC_KEY``; run it where the servers
run). The numbers cannot be brought back: the downgrade refuses.

Revision ID: orders_0003
Revises: orders_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "orders_0003"
down_revision = "orders_0002"
branch_labels = None
depends_on = None

ERASED = "[erased]"  # servers.order_server.phone.ERASED: an erased customer's fields


def upgrade() -> None:
    from servers.order_server.phonekey import phone_key

    with op.batch_alter_table("ord_customer") as batch:
        batch.add_column(sa.Column("phone_key", sa.String(64), nullable=True))
    conn = op.get_bind()
    customer = sa.table(
        "ord_customer",
        sa.column("org_id", sa.String),
        sa.column("customer_ref", sa.String),
        sa.column("phone_e164", sa.String),
        sa.column("phone_key", sa.String),
    )
    rows = conn.execute(sa.select(customer.c.org_id, customer.c.customer_ref, customer.c.phone_e164)).all()
    for org_id, ref, phone in rows:
        key = ERASED if phone == ERASED else phone_key(org_id, phone)
        conn.execute(
            sa.update(customer).where(customer.c.org_id == org_id, customer.c.customer_ref == ref).values(phone_key=key)
        )
    op.drop_index("ix_ord_customer_phone", table_name="ord_customer")
    with op.batch_alter_table("ord_customer") as batch:
        batch.alter_column("phone_key", existing_type=sa.String(64), nullable=False)
        batch.drop_column("phone_e164")
    op.create_index("ix_ord_customer_phone", "ord_customer", ["org_id", "phone_key"])


def downgrade() -> None:
    raise RuntimeError("orders_0003 cannot be undone: the phone numbers are no longer stored, only their keys")
