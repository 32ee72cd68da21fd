"""What an order backend provides: rows in the order server's own vocabulary, scoped to the caller.

The tools (names, schemas, wording) and the rules (refund eligibility, business days, labels,
masking) live above this line and are the same for every backend; a backend only answers
"which rows does this caller see". Every row uses the column names below, so a SQL query or a
REST response is mapped onto them once, in the mapping file (docs/orders.md).

An order outside the caller's scope (another tenant's, another customer's) is reported exactly
like a missing one: :func:`servers.order_server.store.order_not_found`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.context import RequestContext
from servers.order_server.models import RefundRequest

Row = dict[str, Any]

# Columns of each row set: name → required. Optional columns default as docs/orders.md says.
ORDER_COLUMNS: dict[str, bool] = {
    "order_id": True,
    "customer_ref": True,
    "status": True,
    "ordered_at": True,
    "updated_at": False,
    "customer_name": True,
    "subtotal_krw": False,
    "shipping_fee_krw": False,
    "discount_krw": False,
    "total_krw": True,
    "recipient_masked": False,
    "ship_region": False,
    "pay_method": False,
    "pay_status": False,
    "pay_amount_krw": False,
    "paid_at": False,
    "ship_status": False,
    "carrier_code": False,
    "carrier_name": False,
    "tracking_number": False,
    "shipped_at": False,
    "delivered_at": False,
}
ITEM_COLUMNS: dict[str, bool] = {
    "line_no": False,
    "sku": False,
    "product_name": True,
    "option_text": False,
    "quantity": True,
    "unit_price_krw": True,
    "amount_krw": False,
}
REFUND_COLUMNS: dict[str, bool] = {
    "refund_id": True,
    "status": True,
    "amount_krw": True,
    "reason": False,
    "requested_at": True,
    "processing_days": False,
    "expected_completion_date": False,
    "completed_at": False,
}
EVENT_COLUMNS: dict[str, bool] = {
    "occurred_at": True,
    "status": True,
    "location": False,
    "description": False,
}
BRIEF_COLUMNS: dict[str, bool] = {
    "order_id": True,
    "customer_ref": True,
    "ordered_at": True,
    "status": True,
    "total_krw": True,
    "customer_name": True,
}
ROW_SETS: dict[str, dict[str, bool]] = {
    "order": ORDER_COLUMNS,
    "items": ITEM_COLUMNS,
    "refunds": REFUND_COLUMNS,
    "events": EVENT_COLUMNS,
    "orders_by_phone": BRIEF_COLUMNS,
    "refund_by_key": REFUND_COLUMNS | {"order_id": True, "request_sha256": False},
}


@dataclass(slots=True)
class OrderData:
    """One order as a tool needs it: the header row and whichever of its row sets were asked for."""

    head: Row
    items: list[Row] = field(default_factory=list)
    refunds: list[Row] = field(default_factory=list)  # newest first
    events: list[Row] = field(default_factory=list)  # newest first


class OrderBackend(Protocol):
    """Where the order server reads (and, if mapped, writes) orders."""

    name: str  # "tables", "sql" or "rest": shown by `orders show` and in errors

    async def load(
        self, ctx: RequestContext, order_id: str, *, items: bool = False, refunds: bool = False, events: bool = False
    ) -> OrderData:
        """The order in the caller's scope (NOT_FOUND otherwise) with the row sets asked for."""
        ...

    async def orders_by_phone(self, ctx: RequestContext, phone_e164: str, limit: int) -> list[Row]:
        """Up to ``limit`` newest orders of the customers with this number, each with ``item_names``."""
        ...

    async def refund_by_key(self, ctx: RequestContext, idempotency_key: str) -> Row | None:
        """The refund created with this idempotency key in the caller's tenant, if any."""
        ...

    async def request_refund(
        self, ctx: RequestContext, order_id: str, reason: str, idempotency_key: str, *, now: datetime | None = None
    ) -> RefundRequest:
        """Create the refund once per key (the same key and arguments return the same refund)."""
        ...

    async def close(self) -> None: ...
