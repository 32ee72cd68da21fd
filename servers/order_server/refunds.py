"""Refunds: who may have one, when the money is back, and creating one exactly once per key.

Rules: an order can be refunded when it is paid and not yet shipped (a cancellation), or
delivered no more than :data:`REFUND_WINDOW_DAYS` days ago (청약철회), and it has no live refund.
A refund is always for the whole amount paid. ``request_refund`` is idempotent per
``(org, idempotency_key)``: a retry with the same key and arguments returns the same refund,
concurrent retries included (the unique constraint decides a race; the loser reads the winner).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.canonical import canonical_sha256
from core.context import RequestContext
from core.db import get_engine, write_transaction
from core.errors import conflict
from core.pii import mask_text
from servers.order_server import store
from servers.order_server.business_days import add_business_days, business_days_between, today_kst
from servers.order_server.models import (
    REFUND_PROCESSING_DAYS,
    REFUND_STATE_LABELS,
    RefundRequest,
    kst_iso,
)
from servers.order_server.tables import ACTIVE_REFUND_STATES, refund

REFUND_WINDOW_DAYS = 7
REASON_MAX = 500  # the column's length; masking can lengthen an e-mail address a little


def as_utc(value: datetime) -> datetime:
    """Aware UTC; naive values (how SQLite returns them) are UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def active_refund(refunds: list[Mapping[str, Any]] | Any) -> Mapping[str, Any] | None:
    """The live refund (requested, processing or completed), if any."""
    return next((r for r in refunds if r["status"] in ACTIVE_REFUND_STATES), None)


def blocked(header: Mapping[str, Any], live: Mapping[str, Any] | None, now: datetime) -> tuple[str, str] | None:
    """Why the order cannot be refunded now, as (a stable code, a sentence), or None when it can.

    Codes (a CONFLICT's ``reason``, so a host can say why in the customer's language):
    ``refund_exists``, ``not_paid``, ``closed``, ``in_transit``, ``window_passed``."""
    status = header["status"]
    if live is not None:
        return "refund_exists", f"refund {live['refund_id']} already exists for this order ({live['status']})"
    if status in ("cancelled", "refunded"):
        return "closed", f"the order is already {status}"
    if status == "pending_payment" or header["pay_status"] != "paid":
        return "not_paid", "the order has not been paid, so there is nothing to refund"
    if status == "shipped":
        return "in_transit", "the order is on its way: a refund can be requested once it is delivered (반품)"
    if status == "delivered":
        delivered = header["delivered_at"]
        if delivered is None or as_utc(delivered) < now - timedelta(days=REFUND_WINDOW_DAYS):
            return (
                "window_passed",
                f"the {REFUND_WINDOW_DAYS}-day refund window after delivery has passed: connect a human agent",
            )
    return None


def block_reason(header: Mapping[str, Any], live: Mapping[str, Any] | None, now: datetime) -> str | None:
    """Why the order cannot be refunded now (the sentence of :func:`blocked`), or None when it can."""
    found = blocked(header, live, now)
    return found[1] if found else None


def not_refundable(order_id: str, header: Mapping[str, Any], live: Mapping[str, Any] | None, now: datetime) -> None:
    """Raise CONFLICT (its ``reason`` the code of :func:`blocked`) when the order cannot be refunded now."""
    found = blocked(header, live, now)
    if found:
        raise conflict(f"order {order_id} cannot be refunded: {found[1]}", reason=found[0])


def days_phrase(remaining: int) -> str:
    """How the legacy answers phrase it: 2 business days left → "1~2영업일"."""
    return "1영업일" if remaining <= 1 else f"{remaining - 1}~{remaining}영업일"


def refund_summary_ko(state: str, expected: date | None, remaining: int | None, today: date) -> str:
    if state == "completed":
        return "환불이 완료되었습니다."
    if state == "rejected":
        return "환불 요청이 거절되었습니다. 상담원이 자세히 안내해 드리겠습니다."
    if state in ("requested", "processing") and expected is not None:
        lead = "환불 요청이 접수되었으며" if state == "requested" else "환불 처리가 진행 중이며"
        if expected < today:
            return f"{lead} 예정일({expected.isoformat()})이 지나 담당자가 확인하고 있습니다."
        if expected == today or not remaining:
            return f"{lead} 오늘 중 완료될 예정입니다."
        return f"{lead} {days_phrase(remaining)} 내 완료됩니다."
    return "이 주문에는 환불 요청 내역이 없습니다."


def request_view(row: Mapping[str, Any], created: bool, today: date) -> RefundRequest:
    expected = row["expected_completion_date"]
    remaining = business_days_between(today, expected)
    return RefundRequest(
        refund_id=row["refund_id"],
        order_id=row["order_id"],
        state=row["status"],
        state_label=REFUND_STATE_LABELS[row["status"]],
        amount_krw=row["amount_krw"],
        requested_at=kst_iso(row["requested_at"]) or "",
        expected_completion_date=expected.isoformat(),
        business_days_total=row["processing_days"],
        created=created,
        summary_ko=refund_summary_ko(row["status"], expected, remaining, today),
    )


def fingerprint_of(order_id: str, reason: str) -> str:
    """What a retry must repeat for its idempotency key to return the same refund."""
    return canonical_sha256({"order_id": order_id, "reason": reason})


def new_refund(
    ctx: RequestContext, header: Mapping[str, Any], order_id: str, reason: str, idempotency_key: str, now: datetime
) -> dict[str, Any]:
    """The row of a new full refund (the caller checked :func:`block_reason`)."""
    days = REFUND_PROCESSING_DAYS.get(header["pay_method"] or "", 3)
    return {
        "org_id": ctx.org_id,
        "refund_id": "RF" + uuid.uuid4().hex[:16].upper(),
        "order_id": order_id,
        "status": "requested",
        "amount_krw": header["total_krw"],
        "reason": reason,
        "idempotency_key": idempotency_key,
        "request_sha256": fingerprint_of(order_id, reason),
        "requested_at": now,
        "processing_days": days,
        "expected_completion_date": add_business_days(today_kst(now), days),
        "completed_at": None,
    }


def replay(row: Mapping[str, Any], order_id: str, fingerprint: str, today: date) -> RefundRequest:
    """The refund a retried key already created, or CONFLICT when the key was used for other arguments.

    Backends that do not keep the fingerprint (a shop's own table) compare the stored reason.
    """
    stored = row.get("request_sha256")
    if stored is None and row.get("reason"):
        stored = fingerprint_of(row["order_id"], row["reason"])
    if row["order_id"] != order_id or (stored is not None and stored != fingerprint):
        raise conflict("this idempotency_key was already used for a different refund request: use a new key")
    return request_view(row, created=False, today=today)


async def _by_key(conn: AsyncConnection, org_id: str, key: str) -> Mapping[str, Any] | None:
    query = select(refund).where(refund.c.org_id == org_id, refund.c.idempotency_key == key)
    return (await conn.execute(query)).mappings().first()


async def _lock_order(conn: AsyncConnection, ctx: RequestContext, order_id: str) -> None:
    """Serialise refund requests for one order (SELECT ... FOR UPDATE; SQLite holds its write lock)."""
    statement, params = store.scoped_order_lock(ctx, order_id)
    if (await conn.execute(statement, params)).first() is None:
        raise store.order_not_found(order_id)


async def request_refund(
    ctx: RequestContext, order_id: str, reason: str, idempotency_key: str, *, now: datetime | None = None
) -> RefundRequest:
    """Create the refund for ``order_id`` once per idempotency key; a retry returns the same one.

    The reason is stored with personal data masked (a customer may dictate a phone number).
    """
    reason = mask_text(reason)[:REASON_MAX]
    now = now or datetime.now(UTC)
    today = today_kst(now)
    fingerprint = fingerprint_of(order_id, reason)
    engine = await get_engine()
    try:
        async with write_transaction(engine, immediate=True) as conn:
            await _lock_order(conn, ctx, order_id)
            existing = await _by_key(conn, ctx.org_id, idempotency_key)
            if existing is not None:
                return replay(existing, order_id, fingerprint, today)
            session = store.ConnectionSession(conn)
            header = await store.order_header(session, ctx, order_id)
            refunds = await store.order_refunds(session, ctx.org_id, order_id)
            not_refundable(order_id, header, active_refund(refunds), now)
            values = new_refund(ctx, header, order_id, reason, idempotency_key, now)
            await conn.execute(insert(refund).values(**values))
    except IntegrityError:
        # Lost a race: the same key (or another live refund for this order) committed first.
        async with engine.connect() as conn:
            existing = await _by_key(conn, ctx.org_id, idempotency_key)
        if existing is not None:
            return replay(existing, order_id, fingerprint, today)
        raise conflict(
            f"order {order_id} cannot be refunded: a refund for it was just created", reason="refund_exists"
        ) from None
    return request_view(values, created=True, today=today)
