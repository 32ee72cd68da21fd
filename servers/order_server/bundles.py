"""One order with everything that hangs off it, and writing many of them at once.

Seeding and CSV import both build :class:`OrderBundle` values and hand them to
:func:`insert_bundles` inside one transaction; timestamps are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.order_server.phonekey import phone_key
from servers.order_server.tables import customer, order, order_item, payment, refund, shipment, shipment_event


def utc(value: datetime | None) -> datetime | None:
    """Aware datetimes converted to UTC (stored that way on every backend)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a UTC offset")
    return value.astimezone(UTC)


@dataclass(slots=True)
class CustomerRow:
    customer_ref: str
    name: str
    phone_e164: str
    phone_masked: str


@dataclass(slots=True)
class ItemRow:
    sku: str
    product_name: str
    option_text: str | None
    quantity: int
    unit_price_krw: int

    @property
    def amount_krw(self) -> int:
        return self.quantity * self.unit_price_krw


@dataclass(slots=True)
class ShipmentRow:
    carrier_code: str
    carrier_name: str
    tracking_number: str
    status: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    events: list[tuple[datetime, str, str, str]] = field(default_factory=list)  # at, status, location, text


@dataclass(slots=True)
class RefundRow:
    refund_id: str
    status: str
    reason: str
    requested_at: datetime
    processing_days: int
    expected_completion_date: date
    completed_at: datetime | None = None


@dataclass(slots=True)
class OrderBundle:
    order_id: str
    customer: CustomerRow
    status: str
    ordered_at: datetime
    items: list[ItemRow]
    shipping_fee_krw: int
    discount_krw: int
    recipient_masked: str
    ship_region: str
    payment_method: str | None
    payment_status: str
    paid_at: datetime | None
    shipment: ShipmentRow | None = None
    refunds: list[RefundRow] = field(default_factory=list)

    @property
    def subtotal_krw(self) -> int:
        return sum(i.amount_krw for i in self.items)

    @property
    def total_krw(self) -> int:
        return self.subtotal_krw + self.shipping_fee_krw - self.discount_krw


async def existing_orders(conn: AsyncConnection, org_id: str, order_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        query = select(order.c.order_id).where(order.c.org_id == org_id, order.c.order_id.in_(chunk))
        found.update((await conn.execute(query)).scalars())
    return found


async def existing_customers(conn: AsyncConnection, org_id: str, refs: Iterable[str]) -> dict[str, str]:
    """customer_ref → stored phone key (:func:`phonekey.phone_key`) for the refs that already exist."""
    refs = list(refs)
    found: dict[str, str] = {}
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        query = select(customer.c.customer_ref, customer.c.phone_key).where(
            customer.c.org_id == org_id, customer.c.customer_ref.in_(chunk)
        )
        found.update(dict((await conn.execute(query)).tuples().all()))
    return found


def _rows(org_id: str, bundles: Sequence[OrderBundle], now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in ("order", "item", "payment", "shipment", "event", "refund")}
    for b in bundles:
        key = {"org_id": org_id, "order_id": b.order_id}
        rows["order"].append(
            key
            | {
                "customer_ref": b.customer.customer_ref,
                "status": b.status,
                "ordered_at": utc(b.ordered_at),
                "subtotal_krw": b.subtotal_krw,
                "shipping_fee_krw": b.shipping_fee_krw,
                "discount_krw": b.discount_krw,
                "total_krw": b.total_krw,
                "recipient_masked": b.recipient_masked,
                "ship_region": b.ship_region,
                "updated_at": now,
            }
        )
        for line_no, item in enumerate(b.items, start=1):
            rows["item"].append(
                key
                | {
                    "line_no": line_no,
                    "sku": item.sku,
                    "product_name": item.product_name,
                    "option_text": item.option_text,
                    "quantity": item.quantity,
                    "unit_price_krw": item.unit_price_krw,
                    "amount_krw": item.amount_krw,
                }
            )
        if b.payment_method:
            rows["payment"].append(
                key
                | {
                    "method": b.payment_method,
                    "status": b.payment_status,
                    "amount_krw": b.total_krw,
                    "paid_at": utc(b.paid_at),
                }
            )
        if b.shipment:
            s = b.shipment
            rows["shipment"].append(
                key
                | {
                    "carrier_code": s.carrier_code,
                    "carrier_name": s.carrier_name,
                    "tracking_number": s.tracking_number,
                    "status": s.status,
                    "shipped_at": utc(s.shipped_at),
                    "delivered_at": utc(s.delivered_at),
                }
            )
            for seq, (at, status, location, text) in enumerate(s.events, start=1):
                rows["event"].append(
                    key
                    | {"seq": seq, "occurred_at": utc(at), "status": status, "location": location, "description": text}
                )
        for r in b.refunds:
            rows["refund"].append(
                key
                | {
                    "refund_id": r.refund_id,
                    "status": r.status,
                    "amount_krw": b.total_krw,
                    "reason": r.reason,
                    "idempotency_key": None,
                    "request_sha256": None,
                    "requested_at": utc(r.requested_at),
                    "processing_days": r.processing_days,
                    "expected_completion_date": r.expected_completion_date,
                    "completed_at": utc(r.completed_at),
                }
            )
    return rows


async def insert_bundles(
    conn: AsyncConnection, org_id: str, bundles: Sequence[OrderBundle], new_customers: Sequence[CustomerRow]
) -> None:
    """Insert the customers and orders (the caller checked they are new) in the open transaction."""
    now = datetime.now(UTC)
    if new_customers:
        await conn.execute(
            insert(customer),
            [
                {
                    "org_id": org_id,
                    "customer_ref": c.customer_ref,
                    "name": c.name,
                    "phone_key": phone_key(org_id, c.phone_e164),
                    "phone_masked": c.phone_masked,
                    "created_at": now,
                }
                for c in new_customers
            ],
        )
    rows = _rows(org_id, bundles, now)
    tables = {
        "order": order,
        "item": order_item,
        "payment": payment,
        "shipment": shipment,
        "event": shipment_event,
        "refund": refund,
    }
    for name, table in tables.items():
        if rows[name]:
            await conn.execute(insert(table), rows[name])


async def update_customers(conn: AsyncConnection, org_id: str, customers: Sequence[CustomerRow]) -> None:
    """Overwrite the name and phone of existing customers (``orders import --upsert``)."""
    if not customers:
        return
    statement = (
        update(customer)
        .where(customer.c.org_id == bindparam("k_org"), customer.c.customer_ref == bindparam("k_ref"))
        .values(name=bindparam("name"), phone_key=bindparam("phone_key"), phone_masked=bindparam("phone_masked"))
    )
    await conn.execute(
        statement,
        [
            {
                "k_org": org_id,
                "k_ref": c.customer_ref,
                "name": c.name,
                "phone_key": phone_key(org_id, c.phone_e164),
                "phone_masked": c.phone_masked,
            }
            for c in customers
        ],
    )


REPLACED = (shipment_event, shipment, payment, order_item)  # children first (foreign keys)
ORDER_FIELDS = (
    "customer_ref",
    "status",
    "ordered_at",
    "subtotal_krw",
    "shipping_fee_krw",
    "discount_krw",
    "total_krw",
    "recipient_masked",
    "ship_region",
    "updated_at",
)


async def replace_bundles(conn: AsyncConnection, org_id: str, bundles: Sequence[OrderBundle]) -> None:
    """Overwrite existing orders with ``bundles`` in the open transaction (``orders import --upsert``).

    The order row is updated in place; its lines, payment, shipment and tracking events are
    replaced. Refunds are kept: they are requested through the tools, not imported.
    """
    ids = [b.order_id for b in bundles]
    for table in REPLACED:
        await conn.execute(delete(table).where(table.c.org_id == org_id, table.c.order_id.in_(ids)))
    rows = _rows(org_id, bundles, datetime.now(UTC))
    statement = (
        update(order)
        .where(order.c.org_id == bindparam("k_org"), order.c.order_id == bindparam("k_order"))
        .values({name: bindparam(name) for name in ORDER_FIELDS})
    )
    await conn.execute(
        statement,
        [{"k_org": r["org_id"], "k_order": r["order_id"]} | {n: r[n] for n in ORDER_FIELDS} for r in rows["order"]],
    )
    for name, table in (("item", order_item), ("payment", payment), ("shipment", shipment), ("event", shipment_event)):
        if rows[name]:
            await conn.execute(insert(table), rows[name])
