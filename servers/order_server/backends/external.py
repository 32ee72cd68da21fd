"""What the SQL and REST backends share: scope, row shaping, and the refund flow.

A concrete backend only fetches raw rows for a row set (``fetch``) and performs the mapped write
(``write``). Tenant isolation does not depend on the mapping's queries: a tenant not listed in
``orgs`` sees nothing, and when the connection names a customer every order row's
``customer_ref`` must be that customer's, or the order is reported as not found.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.context import RequestContext
from core.errors import conflict, unavailable
from core.pii import mask_text
from servers.order_server import store
from servers.order_server.backends.base import OrderData, Row
from servers.order_server.backends.mapping import WRITE_SET, Mapping
from servers.order_server.backends.rows import newest_first, normalise
from servers.order_server.business_days import today_kst
from servers.order_server.models import RefundRequest
from servers.order_server.refunds import (
    REASON_MAX,
    active_refund,
    block_reason,
    fingerprint_of,
    new_refund,
    replay,
    request_view,
)

Cache = dict[str, Any]


class KeyTaken(Exception):
    """The shop's system refused the write because the idempotency key (or a live refund) exists."""


def call_params(ctx: RequestContext, **extra: Any) -> dict[str, Any]:
    """The named parameters every query and URL template may use."""
    return {"org_id": ctx.org_id, "customer_ref": ctx.customer_ref} | extra


def phone_params(phone_e164: str) -> dict[str, str]:
    """+821012345678 → also 01012345678 and 010-1234-5678, however the shop stores it."""
    local = "0" + phone_e164[3:]
    dashed = f"{local[:3]}-{local[3:-4]}-{local[-4:]}"
    return {"phone_e164": phone_e164, "phone_local": local, "phone_dashed": dashed}


class ExternalBackend:
    """The flow over a shop's own system; subclasses implement ``fetch``, ``write`` and ``close``."""

    name = "external"

    def __init__(self, mapping: Mapping, sets: set[str]) -> None:
        self.mapping = mapping
        self.sets = sets

    async def fetch(self, row_set: str, params: dict[str, Any], cache: Cache) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def write(self, params: dict[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    def _serves(self, ctx: RequestContext) -> bool:
        return ctx.org_id in self.mapping.orgs

    def _mine(self, ctx: RequestContext, row: Row) -> bool:
        return not ctx.customer_ref or row["customer_ref"] == ctx.customer_ref

    async def _rows(self, row_set: str, params: dict[str, Any], cache: Cache) -> list[Row]:
        if row_set not in self.sets:
            return []
        return [normalise(self.mapping, row_set, raw) for raw in await self.fetch(row_set, params, cache)]

    async def load(
        self, ctx: RequestContext, order_id: str, *, items: bool = False, refunds: bool = False, events: bool = False
    ) -> OrderData:
        if not self._serves(ctx):
            raise store.order_not_found(order_id)
        params, cache = call_params(ctx, order_id=order_id), {}
        heads = [h for h in await self._rows("order", params, cache) if h["order_id"] == order_id]
        if not heads or not self._mine(ctx, heads[0]):
            raise store.order_not_found(order_id)
        data = OrderData(heads[0])
        if items:
            data.items = await self._rows("items", params, cache)
            for number, item in enumerate(data.items, start=1):
                item["line_no"] = item["line_no"] or number
        if refunds:
            data.refunds = newest_first(await self._rows("refunds", params, cache), "requested_at")
        if events and data.head["ship_status"]:
            events_rows = newest_first(await self._rows("events", params, cache), "occurred_at")
            data.events = events_rows[: store.SHIPPING_EVENTS]
        return data

    async def orders_by_phone(self, ctx: RequestContext, phone_e164: str, limit: int) -> list[Row]:
        if not self._serves(ctx):
            return []
        params = call_params(ctx, **phone_params(phone_e164))
        rows = [r for r in await self._rows("orders_by_phone", params, {}) if self._mine(ctx, r)]
        rows = sorted(rows, key=lambda r: (r["ordered_at"], r["order_id"]), reverse=True)[:limit]
        for row in rows:
            lines = await self._rows("items", call_params(ctx, order_id=row["order_id"]), {})
            row["item_names"] = [line["product_name"] for line in lines]
        return rows

    async def refund_by_key(self, ctx: RequestContext, idempotency_key: str) -> Row | None:
        if not self._serves(ctx) or "refund_by_key" not in self.sets:
            return None
        params = call_params(ctx, idempotency_key=idempotency_key)
        found = await self._rows("refund_by_key", params, {})
        if not found:
            return None
        if ctx.customer_ref:  # another customer's refund is reported like a missing one
            heads = await self._rows("order", call_params(ctx, order_id=found[0]["order_id"]), {})
            if not heads or not self._mine(ctx, heads[0]):
                return None
        return found[0]

    async def request_refund(
        self, ctx: RequestContext, order_id: str, reason: str, idempotency_key: str, *, now: datetime | None = None
    ) -> RefundRequest:
        if WRITE_SET not in self.sets:
            raise unavailable(
                "refunds cannot be requested here: this shop's order system is connected read-only. "
                "Tell the customer a human agent will take the request (connect a human agent)"
            )
        reason = mask_text(reason)[:REASON_MAX]
        now = now or datetime.now(UTC)
        today = today_kst(now)
        fingerprint = fingerprint_of(order_id, reason)
        existing = await self.refund_by_key(ctx, idempotency_key)
        if existing is not None:
            return replay(existing, order_id, fingerprint, today)
        data = await self.load(ctx, order_id, refunds=True)
        blocked = block_reason(data.head, active_refund(data.refunds), now)
        if blocked:
            raise conflict(f"order {order_id} cannot be refunded: {blocked}")
        values = new_refund(ctx, data.head, order_id, reason, idempotency_key, now)
        values["customer_ref"] = data.head["customer_ref"]
        try:
            written = await self.write(values)
        except KeyTaken:  # lost a race to a retry with the same key: answer as that retry did
            winner = await self.refund_by_key(ctx, idempotency_key)
            if winner is None:
                raise conflict(f"order {order_id} cannot be refunded: a refund for it was just created") from None
            return replay(winner, order_id, fingerprint, today)
        if written is None:  # the write returned no row: read the refund back by its key
            written = await self.refund_by_key(ctx, idempotency_key)
            if written is None:
                raise unavailable(
                    f"the order backend accepted the refund for {order_id} but refund_by_key does not find it: "
                    "check the request_refund and refund_by_key mapping"
                )
            return request_view(written, created=True, today=today)
        row = normalise(self.mapping, "refund_by_key", {"order_id": order_id} | written)
        return request_view(row, created=True, today=today)
