"""The built-in backend: Switchboard's own ``ord_*`` tables (the default)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from core.context import RequestContext
from core.errors import SwitchboardError
from servers.order_server import refunds, store
from servers.order_server.backends.base import OrderData, Row
from servers.order_server.models import RefundRequest
from servers.order_server.tables import refund

REFUND_BY_KEY = select(refund).where(
    refund.c.org_id == bindparam("org_id"), refund.c.idempotency_key == bindparam("idempotency_key")
)


class TablesBackend:
    """Reads through :mod:`servers.order_server.store`; refunds through :mod:`servers.order_server.refunds`."""

    name = "tables"

    async def load(
        self, ctx: RequestContext, order_id: str, *, items: bool = False, refunds: bool = False, events: bool = False
    ) -> OrderData:
        async with store.read_session() as session:
            data = OrderData(await store.order_header(session, ctx, order_id))
            if items:
                data.items = await store.order_items(session, ctx.org_id, order_id)
            if refunds:
                data.refunds = await store.order_refunds(session, ctx.org_id, order_id)
            if events and data.head["ship_status"]:
                data.events = await store.shipment_events(session, ctx.org_id, order_id)
        return data

    async def orders_by_phone(self, ctx: RequestContext, phone_e164: str, limit: int) -> list[Row]:
        async with store.read_session() as session:
            rows = await store.orders_by_phone(session, ctx, phone_e164)
        return rows[:limit]

    async def refund_by_key(self, ctx: RequestContext, idempotency_key: str) -> Row | None:
        async with store.read_session() as session:
            rows = await session.rows(REFUND_BY_KEY, {"org_id": ctx.org_id, "idempotency_key": idempotency_key})
            if not rows:
                return None
            if ctx.customer_ref:  # another customer's refund is reported like a missing one
                try:
                    await store.order_header(session, ctx, rows[0]["order_id"])
                except SwitchboardError:
                    return None
        return rows[0]

    async def request_refund(
        self, ctx: RequestContext, order_id: str, reason: str, idempotency_key: str, *, now: datetime | None = None
    ) -> RefundRequest:
        return await refunds.request_refund(ctx, order_id, reason, idempotency_key, now=now)

    async def close(self) -> None:
        store.close_readers()
