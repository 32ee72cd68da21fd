"""What the tools return: typed results (their JSON Schemas are the tools' output schemas).

Money is KRW in integers (``*_krw``); timestamps are ISO 8601 strings in Korea time
(``2026-01-22T13:03:31+09:00``); dates are ``YYYY-MM-DD``. Every status has a Korean label
(``*_label``) an agent can read out as it is. Names and phone numbers are masked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from servers.order_server.business_days import KST

OrderStatus = Literal["pending_payment", "paid", "preparing", "shipped", "delivered", "cancelled", "refunded"]
ShipmentStatus = Literal["not_shipped", "ready", "in_transit", "out_for_delivery", "delivered", "returned"]
RefundState = Literal["none", "requested", "processing", "completed", "rejected"]
NotRefundable = Literal["refund_exists", "not_paid", "closed", "in_transit", "window_passed"]
PaymentMethod = Literal["card", "bank_transfer", "virtual_account", "kakaopay", "naverpay", "tosspay"]
PaymentStatus = Literal["pending", "paid", "cancelled"]

ORDER_STATUS_LABELS: dict[str, str] = {
    "pending_payment": "결제 대기",
    "paid": "결제 완료",
    "preparing": "상품 준비중",
    "shipped": "배송중",
    "delivered": "배송 완료",
    "cancelled": "주문 취소",
    "refunded": "환불 완료",
}
SHIPMENT_STATUS_LABELS: dict[str, str] = {
    "not_shipped": "출고 전",
    "ready": "배송 준비",
    "in_transit": "배송중",
    "out_for_delivery": "배송 출발",
    "delivered": "배송 완료",
    "returned": "반송",
}
REFUND_STATE_LABELS: dict[str, str] = {
    "none": "환불 내역 없음",
    "requested": "환불 접수",
    "processing": "환불 진행중",
    "completed": "환불 완료",
    "rejected": "환불 거절",
}
PAYMENT_METHOD_LABELS: dict[str, str] = {
    "card": "신용카드",
    "bank_transfer": "계좌이체",
    "virtual_account": "무통장입금",
    "kakaopay": "카카오페이",
    "naverpay": "네이버페이",
    "tosspay": "토스페이",
}
# Business days from the refund request until the money is back, by payment method.
REFUND_PROCESSING_DAYS: dict[str, int] = {
    "card": 3,
    "bank_transfer": 2,
    "virtual_account": 2,
    "kakaopay": 1,
    "naverpay": 1,
    "tosspay": 1,
}


def kst_iso(value: datetime | None) -> str | None:
    """ISO 8601 in Korea time; naive values (SQLite) are UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(KST).isoformat(timespec="seconds")


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ts() -> Any:
    return Field(description="ISO 8601 with offset, Korea time, e.g. 2026-01-22T13:03:31+09:00")


class OrderItem(BaseModel):
    line_no: int
    sku: str
    name: str = Field(description="Product name")
    option: str | None = Field(description="Chosen option (colour, size, ...), if any")
    quantity: int
    unit_price_krw: int
    amount_krw: int


class Amounts(BaseModel):
    currency: Literal["KRW"] = "KRW"
    subtotal_krw: int
    shipping_fee_krw: int
    discount_krw: int
    total_krw: int = Field(description="What the customer paid: subtotal + shipping fee - discount")
    refunded_krw: int = Field(description="Refunds completed so far")


class PaymentSummary(BaseModel):
    method: PaymentMethod
    method_label: str
    status: PaymentStatus
    amount_krw: int
    paid_at: str | None = _ts()


class ShippingSummary(BaseModel):
    status: ShipmentStatus
    status_label: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: str | None = _ts()
    delivered_at: str | None = _ts()
    recipient_masked: str
    region: str = Field(description="Delivery region (city and district only)")


class RefundSummary(BaseModel):
    refund_id: str
    state: RefundState
    state_label: str
    amount_krw: int
    requested_at: str = _ts()
    expected_completion_date: str = Field(description="YYYY-MM-DD, Korea time")


class Order(BaseModel):
    """One order as get_order returns it."""

    order_id: str
    status: OrderStatus
    status_label: str
    ordered_at: str = _ts()
    updated_at: str = _ts()
    customer_name_masked: str
    items: list[OrderItem]
    amounts: Amounts
    payment: PaymentSummary | None
    shipping: ShippingSummary
    refund: RefundSummary | None = Field(description="The current refund, if one was requested")


class RefundStatus(BaseModel):
    """The refund state of an order and when the money is expected back."""

    order_id: str
    state: RefundState
    state_label: str
    refund_id: str | None
    amount_krw: int | None
    reason: str | None
    requested_at: str | None = _ts()
    completed_at: str | None = _ts()
    expected_completion_date: str | None = Field(description="YYYY-MM-DD, Korea time; weekends and holidays skipped")
    business_days_total: int | None = Field(description="Business days the refund takes from the request")
    business_days_remaining: int | None = Field(description="Business days from today to the expected date")
    overdue: bool = Field(description="True when the expected date has passed and the refund is not complete")
    refundable: bool = Field(description="Whether request_refund would accept this order now")
    not_refundable_reason: str | None
    not_refundable_code: NotRefundable | None = Field(
        description="Why not, as a stable code (the reason of request_refund's CONFLICT); added in 1.3.0"
    )
    summary_ko: str = Field(description="One Korean sentence an agent can read to the customer")


class ShippingEvent(BaseModel):
    at: str = _ts()
    status: ShipmentStatus
    status_label: str
    location: str
    description: str


class ShippingStatus(BaseModel):
    """Carrier, tracking number and the latest tracking events (newest first)."""

    order_id: str
    status: ShipmentStatus
    status_label: str
    carrier: str | None
    carrier_code: str | None
    tracking_number: str | None
    shipped_at: str | None = _ts()
    delivered_at: str | None = _ts()
    events: list[ShippingEvent] = Field(description="Newest first, at most 10")


class OrderBrief(BaseModel):
    order_id: str
    ordered_at: str = _ts()
    status: OrderStatus
    status_label: str
    total_krw: int
    item_summary: str = Field(description="e.g. '무선 블루투스 이어폰 외 2건'")
    customer_name_masked: str


class FoundOrders(BaseModel):
    """A customer's recent orders found by phone number."""

    phone_masked: str = Field(description="The phone number searched, masked, e.g. +82-10-****-5678")
    orders: list[OrderBrief] = Field(description="Newest first")
    truncated: bool = Field(description="True when older orders were left out")


class CallerCheck(BaseModel):
    """Whether a caller proved who they are: the phone number on record plus the second factor."""

    verified: bool = Field(description="True when the phone number and the factor belong to one customer")
    customer_ref: str | None = Field(description="The verified customer's opaque reference (null when not verified)")
    phone_masked: str = Field(description="The phone number checked, masked, e.g. +82-10-****-5678")


class RefundRequest(BaseModel):
    """The refund request_refund created, or found again for a retried idempotency key."""

    refund_id: str
    order_id: str
    state: RefundState
    state_label: str
    amount_krw: int
    requested_at: str = _ts()
    expected_completion_date: str = Field(description="YYYY-MM-DD, Korea time")
    business_days_total: int
    created: bool = Field(description="False when this idempotency key was already used: the same refund again")
    summary_ko: str


class RefundLookup(BaseModel):
    """Whether a refund request with an idempotency key was made (for checking a write after a crash)."""

    found: bool = Field(description="True when request_refund succeeded with this idempotency key")
    refund: RefundRequest | None = Field(description="That refund (created=false), or null when none was made")


RefundOutcomeKind = Literal["requested", "confirmation_required", "declined"]


class RefundConfirmation(BaseModel):
    """A refund waiting for the customer's yes: the server-checked details and how to confirm it."""

    confirmation_id: str = Field(description="Pass to confirm_refund once the customer has said yes")
    order_id: str
    product: str = Field(description="What was ordered, e.g. '무선 블루투스 이어폰 외 1건'")
    amount_krw: int = Field(description="The amount that would be refunded (the whole amount paid)")
    reason: str = Field(description="The reason given, personal data masked")
    expires_at: str = _ts()
    prompt_ko: str = Field(description="The question to read to the customer, word for word")
    prompt_en: str


class RefundOutcome(BaseModel):
    """What request_refund / confirm_refund did: a refund requested, a confirmation needed, or no refund."""

    outcome: RefundOutcomeKind = Field(
        description="requested: the refund exists; confirmation_required: ask the customer, then call "
        "confirm_refund; declined: the customer said no or did not answer, nothing was refunded"
    )
    order_id: str
    amount_krw: int
    refund_id: str | None = Field(description="The refund (outcome requested), else null")
    state: RefundState | None
    state_label: str | None
    requested_at: str | None = _ts()
    expected_completion_date: str | None = Field(description="YYYY-MM-DD, Korea time")
    business_days_total: int | None
    created: bool = Field(description="True when this call created the refund")
    confirmation: RefundConfirmation | None = Field(description="What to confirm (confirmation_required), else null")
    summary_ko: str = Field(description="One Korean sentence an agent can read to the customer")
