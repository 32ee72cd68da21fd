"""Erasing a customer from the order store: the customer is pseudonymised, the orders stay.

Called by ``switchboard customer erase`` (``switchboard_erase.py``). Orders are business records
that the Korean e-commerce act (전자상거래법 §6 and its decree) makes a shop keep: contracts,
payments and the supply of goods for 5 years, complaints and disputes for 3. So every order row
stays, with its lines, amounts, payment, shipment (carrier, tracking number, dates) and refunds
(amounts, states, dates), still under the customer's opaque ``customer_ref``; what names or
reaches the person is replaced by :data:`ERASED`: the customer's name and phone numbers (E.164 and
masked; the columns are NOT NULL), each order's recipient and delivery region, the places and
texts of its tracking events, and the free-text reason of its refunds and refund confirmations.

A lookup by the old phone number then finds nothing (``ERASED`` is no number ``parse_phone``
accepts), while an order opened by its id or by the customer's reference still answers, showing
``[erased]`` for those fields. Rerunning changes nothing and says the customer was already
pseudonymised. On SQLite the updates run with ``secure_delete=ON`` and the WAL is truncated
afterwards, so the old values leave the files too; on PostgreSQL old row versions stay in the
table files until ``VACUUM`` (docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core.db import checkpoint_wal, get_engine, get_pooled_engine, write_transaction
from servers.order_server.phone import ERASED
from servers.order_server.tables import customer, order, refund, refund_confirmation, shipment_event

CUSTOMER_FIELDS = ("name", "phone_key", "phone_masked")
# Per table, the fields of the customer's orders that are personal or free text.
ORDER_FIELDS: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (order, ("recipient_masked", "ship_region")),
    (shipment_event, ("location", "description")),
    (refund, ("reason",)),
    (refund_confirmation, ("reason",)),
)
_CHUNK = 500
_ERASE_PRAGMAS = ("secure_delete=ON",)


@dataclass(slots=True)
class OrderErasure:
    """What the erase did in the order tables (counts of this run)."""

    customers_pseudonymised: int = 0
    customers_already_pseudonymised: int = 0
    orders_kept: int = 0
    fields_cleared: int = 0
    wal_checkpointed: bool = True
    backend: str = "tables"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def order_presence(org_id: str, customer_ref: str) -> tuple[bool, bool]:
    """(does the order store hold anything of ``org_id``, anything of this customer there?)

    A pseudonymised customer still counts: the row and the orders are theirs.
    """
    engine = await get_engine()
    async with engine.connect() as conn:
        org = False
        for table in (customer, refund_confirmation):
            query = select(table.c.org_id).where(table.c.org_id == org_id).limit(1)
            org = org or (await conn.execute(query)).first() is not None
        if not org:
            return False, False
        found = False
        for table in (customer, refund_confirmation):
            query = select(table.c.org_id).where(table.c.org_id == org_id, table.c.customer_ref == customer_ref)
            found = found or (await conn.execute(query.limit(1))).first() is not None
        return True, found


async def pseudonymise_customer(org_id: str, customer_ref: str) -> OrderErasure:
    """Replace the customer's personal fields in every order table by :data:`ERASED`; keep the orders."""
    from servers.order_server.backends import configured

    out = OrderErasure(backend=configured())
    if out.backend != "tables":
        out.note = (
            "orders are served from the shop's own system: erase the customer there too "
            "(only Switchboard's order tables and refund confirmations were reached)"
        )
    engine = await get_pooled_engine(pool_size=1, max_overflow=2, extra_pragmas=_ERASE_PRAGMAS)
    async with write_transaction(engine, immediate=True) as conn:
        of_customer = and_(customer.c.org_id == org_id, customer.c.customer_ref == customer_ref)
        row = (await conn.execute(select(*(customer.c[f] for f in CUSTOMER_FIELDS)).where(of_customer))).first()
        if row is not None:
            if all(value == ERASED for value in row):
                out.customers_already_pseudonymised = 1
            else:
                out.customers_pseudonymised = 1
        out.fields_cleared += await _clear(conn, customer, CUSTOMER_FIELDS, of_customer)
        query = select(order.c.order_id).where(order.c.org_id == org_id, order.c.customer_ref == customer_ref)
        order_ids = list((await conn.execute(query)).scalars())
        out.orders_kept = len(order_ids)
        for start in range(0, len(order_ids), _CHUNK):
            chunk = order_ids[start : start + _CHUNK]
            for table, fields in ORDER_FIELDS:
                where = and_(table.c.org_id == org_id, table.c.order_id.in_(chunk))
                out.fields_cleared += await _clear(conn, table, fields, where)
        # confirmations opened by the customer (also for orders served by another backend)
        mine = and_(refund_confirmation.c.org_id == org_id, refund_confirmation.c.customer_ref == customer_ref)
        out.fields_cleared += await _clear(conn, refund_confirmation, ("reason",), mine)
    out.wal_checkpointed = await checkpoint_wal(engine)
    return out


async def _clear(conn: AsyncConnection, table: Table, fields: Sequence[str], where: ColumnElement[bool]) -> int:
    """Set each field to ERASED where it is not yet; the number of values changed."""
    changed = 0
    for name in fields:
        column = table.c[name]
        result = await conn.execute(update(table).where(where, column != ERASED).values({name: ERASED}))
        changed += result.rowcount or 0
    return changed
