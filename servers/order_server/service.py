"""The read side of the tools: load rows in the caller's scope (from the configured backend) and
shape the results, the same way over every backend."""

from __future__ import annotations

from datetime import UTC, datetime

from core.context import RequestContext
from servers.order_server import store
from servers.order_server.backends import get_backend
from servers.order_server.business_days import business_days_between, today_kst
from servers.order_server.models import (
    ORDER_STATUS_LABELS,
    PAYMENT_METHOD_LABELS,
    REFUND_STATE_LABELS,
    SHIPMENT_STATUS_LABELS,
    Amounts,
    FoundOrders,
    Order,
    OrderBrief,
    OrderItem,
    PaymentSummary,
    RefundLookup,
    RefundStatus,
    RefundSummary,
    ShippingEvent,
    ShippingStatus,
    ShippingSummary,
    iso_date,
    kst_iso,
)
from servers.order_server.phone import Phone, mask_name
from servers.order_server.refunds import active_refund, blocked, refund_summary_ko, request_view


async def get_order(ctx: RequestContext, order_id: str) -> Order:
    data = await get_backend().load(ctx, order_id, items=True, refunds=True)
    head, items, refunds = data.head, data.items, data.refunds
    live = active_refund(refunds)
    refunded = sum(r["amount_krw"] for r in refunds if r["status"] == "completed")
    ship_status = head["ship_status"] or "not_shipped"
    return Order(
        order_id=head["order_id"],
        status=head["status"],
        status_label=ORDER_STATUS_LABELS[head["status"]],
        ordered_at=kst_iso(head["ordered_at"]) or "",
        updated_at=kst_iso(head["updated_at"]) or "",
        customer_name_masked=mask_name(head["customer_name"]),
        items=[
            OrderItem(
                line_no=i["line_no"],
                sku=i["sku"],
                name=i["product_name"],
                option=i["option_text"],
                quantity=i["quantity"],
                unit_price_krw=i["unit_price_krw"],
                amount_krw=i["amount_krw"],
            )
            for i in items
        ],
        amounts=Amounts(
            subtotal_krw=head["subtotal_krw"],
            shipping_fee_krw=head["shipping_fee_krw"],
            discount_krw=head["discount_krw"],
            total_krw=head["total_krw"],
            refunded_krw=refunded,
        ),
        payment=None
        if head["pay_method"] is None
        else PaymentSummary(
            method=head["pay_method"],
            method_label=PAYMENT_METHOD_LABELS[head["pay_method"]],
            status=head["pay_status"],
            amount_krw=head["pay_amount_krw"],
            paid_at=kst_iso(head["paid_at"]),
        ),
        shipping=ShippingSummary(
            status=ship_status,
            status_label=SHIPMENT_STATUS_LABELS[ship_status],
            carrier=head["carrier_name"],
            tracking_number=head["tracking_number"],
            shipped_at=kst_iso(head["shipped_at"]),
            delivered_at=kst_iso(head["delivered_at"]),
            recipient_masked=head["recipient_masked"],
            region=head["ship_region"],
        ),
        refund=None
        if live is None
        else RefundSummary(
            refund_id=live["refund_id"],
            state=live["status"],
            state_label=REFUND_STATE_LABELS[live["status"]],
            amount_krw=live["amount_krw"],
            requested_at=kst_iso(live["requested_at"]) or "",
            expected_completion_date=live["expected_completion_date"].isoformat(),
        ),
    )


async def get_refund_status(ctx: RequestContext, order_id: str, *, now: datetime | None = None) -> RefundStatus:
    now = now or datetime.now(UTC)
    today = today_kst(now)
    data = await get_backend().load(ctx, order_id, refunds=True)
    head, refunds = data.head, data.refunds
    live = active_refund(refunds)
    current = live or (refunds[0] if refunds else None)
    code, blocked_why = blocked(head, live, now) or (None, None)
    if current is None:
        return RefundStatus(
            order_id=order_id,
            state="none",
            state_label=REFUND_STATE_LABELS["none"],
            refund_id=None,
            amount_krw=None,
            reason=None,
            requested_at=None,
            completed_at=None,
            expected_completion_date=None,
            business_days_total=None,
            business_days_remaining=None,
            overdue=False,
            refundable=code is None,
            not_refundable_reason=blocked_why,
            not_refundable_code=code,
            summary_ko=refund_summary_ko("none", None, None, today),
        )
    state = current["status"]
    expected = current["expected_completion_date"]
    pending = state in ("requested", "processing")
    remaining = business_days_between(today, expected) if pending else 0
    return RefundStatus(
        order_id=order_id,
        state=state,
        state_label=REFUND_STATE_LABELS[state],
        refund_id=current["refund_id"],
        amount_krw=current["amount_krw"],
        reason=current["reason"],
        requested_at=kst_iso(current["requested_at"]),
        completed_at=kst_iso(current["completed_at"]),
        expected_completion_date=iso_date(expected),
        business_days_total=current["processing_days"],
        business_days_remaining=remaining,
        overdue=pending and expected < today,
        refundable=code is None,
        not_refundable_reason=blocked_why,
        not_refundable_code=code,
        summary_ko=refund_summary_ko(state, expected, remaining, today),
    )


async def get_shipping_status(ctx: RequestContext, order_id: str) -> ShippingStatus:
    data = await get_backend().load(ctx, order_id, events=True)
    head, events = data.head, data.events
    status = head["ship_status"] or "not_shipped"
    return ShippingStatus(
        order_id=order_id,
        status=status,
        status_label=SHIPMENT_STATUS_LABELS[status],
        carrier=head["carrier_name"],
        carrier_code=head["carrier_code"],
        tracking_number=head["tracking_number"],
        shipped_at=kst_iso(head["shipped_at"]),
        delivered_at=kst_iso(head["delivered_at"]),
        events=[
            ShippingEvent(
                at=kst_iso(e["occurred_at"]) or "",
                status=e["status"],
                status_label=SHIPMENT_STATUS_LABELS[e["status"]],
                location=e["location"],
                description=e["description"],
            )
            for e in events
        ],
    )


def item_summary(names: list[str]) -> str:
    """'무선 블루투스 이어폰 외 2건' for three lines."""
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{names[0]} 외 {len(names) - 1}건"


async def find_orders(ctx: RequestContext, phone: Phone) -> FoundOrders:
    rows = await get_backend().orders_by_phone(ctx, phone.e164, store.RECENT_ORDERS + 1)
    return FoundOrders(
        phone_masked=phone.masked,
        orders=[
            OrderBrief(
                order_id=r["order_id"],
                ordered_at=kst_iso(r["ordered_at"]) or "",
                status=r["status"],
                status_label=ORDER_STATUS_LABELS[r["status"]],
                total_krw=r["total_krw"],
                item_summary=item_summary(r["item_names"]),
                customer_name_masked=mask_name(r["customer_name"]),
            )
            for r in rows[: store.RECENT_ORDERS]
        ],
        truncated=len(rows) > store.RECENT_ORDERS,
    )


async def find_refund_request(ctx: RequestContext, key: str, *, now: datetime | None = None) -> RefundLookup:
    """The refund made with idempotency key ``key`` for this org (and customer), if any, through
    whichever backend serves the orders: did an interrupted write happen?"""
    row = await get_backend().refund_by_key(ctx, key)
    if row is None:
        return RefundLookup(found=False, refund=None)
    return RefundLookup(found=True, refund=request_view(row, created=False, today=today_kst(now or datetime.now(UTC))))
