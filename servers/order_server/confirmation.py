"""Confirmation inside the order server: no refund without the customer's yes, whatever the client.

``request_refund`` checks the order (it exists for this account, can be refunded now, the product
and the amount, all read from the order backend, never from the model's arguments) and then:

1. the host already asked the customer: a trusted caller (the host's stdio child, a trusted
   service token) sends ``_meta["switchboard/confirmation"] = {"arguments_sha256": ...}`` bound
   to these exact arguments, and the refund is requested at once (the customer is never asked
   twice). From any other caller that key is ignored;
2. the client supports elicitation: on a 2026-07-28 connection the answer travels in an
   ``input_required`` result (SEP-2322) and the client's retry; on a 2025-11-25 session the server
   sends ``elicitation/create`` and waits (``SWITCHBOARD_ORDERS_CONFIRM_WAIT_S``, default 120 s);
3. neither: a pending request with a ``confirmation_id`` comes back and ``confirm_refund``
   executes it once, before it expires (``SWITCHBOARD_ORDERS_CONFIRM_TTL_S``, default 600 s).

"No", cancel or no answer means no refund, and the result says so. A retried idempotency key
that already has its refund returns that refund without asking again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.canonical import canonical_sha256
from core.confirmation import CONFIRMATION_META_KEY, confirmation_meta
from core.context import RequestContext
from core.errors import ErrorCode, SwitchboardError, conflict, forbidden, invalid, not_found
from core.pii import mask_text
from servers.order_server import confirm_store as store
from servers.order_server.backends import get_backend
from servers.order_server.models import RefundConfirmation, RefundOutcome, RefundRequest, kst_iso
from servers.order_server.refunds import REASON_MAX, active_refund, fingerprint_of, not_refundable

HOST_META_KEY = CONFIRMATION_META_KEY
WAIT_ENV = "SWITCHBOARD_ORDERS_CONFIRM_WAIT_S"
DEFAULT_WAIT_S = 120.0
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {
            "type": "boolean",
            "title": "환불 요청 / Request the refund",
            "description": "예(true)면 환불을 요청합니다 / true requests the refund",
        }
    },
    "required": ["confirm"],
}


def wait_seconds() -> float:
    """How long a 2025-11-25 elicitation waits for the customer's answer."""
    try:
        return min(max(float(os.environ.get(WAIT_ENV, "") or DEFAULT_WAIT_S), 0.1), 3600.0)
    except ValueError:
        return DEFAULT_WAIT_S


def arguments_sha256(order_id: str, reason: str, idempotency_key: str) -> str:
    """The digest a host's confirmation names: request_refund's arguments exactly as sent."""
    return canonical_sha256({"order_id": order_id, "reason": reason, "idempotency_key": idempotency_key})


def host_meta(arguments: Mapping[str, Any], confirmed_by: str = "customer") -> dict[str, Any]:
    """The ``_meta`` entry a trusted host sends with a call its customer (or operator) confirmed."""
    return confirmation_meta(arguments, confirmed_by)


# the client's side of the conversation ------------------------------------------------------------


def _fastmcp_context() -> Any:
    from fastmcp.server.dependencies import get_context

    return get_context()


def _meta(fctx: Any) -> Mapping[str, Any]:
    try:
        return fctx.request_context.meta or {}
    except Exception:
        return {}


def can_elicit(fctx: Any) -> bool:
    """The client declared form elicitation (an empty ``elicitation: {}`` means form)."""
    try:
        capabilities = fctx.session.client_capabilities
    except Exception:
        return False
    found = getattr(capabilities, "elicitation", None)
    return found is not None and (found.form is not None or found.url is None)


def is_modern(fctx: Any) -> bool:
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    try:
        return fctx.request_context.protocol_version in MODERN_PROTOCOL_VERSIONS
    except Exception:
        return False


def said_yes(answer: Any) -> bool | None:
    """True for an accepted ``confirm: true``, False for no, None for cancel or nothing."""
    action = getattr(answer, "action", None)
    if action == "accept":
        content = getattr(answer, "content", None) or {}
        return content.get("confirm") is True
    if action == "decline":
        return False
    return None


# the server-checked details ---------------------------------------------------------------------------


async def check_refundable(ctx: RequestContext, order_id: str, now: datetime) -> store.Checked:
    """The order, product and amount to confirm; NOT_FOUND / CONFLICT when it cannot be refunded."""
    from servers.order_server.service import item_summary

    data = await get_backend().load(ctx, order_id, items=True, refunds=True)
    not_refundable(order_id, data.head, active_refund(data.refunds), now)
    product = item_summary([str(i["product_name"]) for i in data.items]) or "상품 정보 없음"
    return store.Checked(str(data.head["order_id"]), product, int(data.head["total_krw"]))


def prompts(row: Mapping[str, Any]) -> tuple[str, str]:
    """The question put to the customer (Korean, English), from the stored, checked details."""
    ko = (
        f"주문번호 {row['order_id']} ({row['product']}) {row['amount_krw']:,}원 전액을 환불 요청할까요? "
        f"사유: {row['reason']}"
    )
    en = (
        f"Request a full refund of KRW {row['amount_krw']:,} for order {row['order_id']} "
        f"({row['product']})? Reason: {row['reason']}"
    )
    return ko, en


def pending_view(row: Mapping[str, Any]) -> RefundConfirmation:
    ko, en = prompts(row)
    return RefundConfirmation(
        confirmation_id=row["confirmation_id"],
        order_id=row["order_id"],
        product=row["product"],
        amount_krw=row["amount_krw"],
        reason=row["reason"],
        expires_at=kst_iso(row["expires_at"]) or "",
        prompt_ko=ko,
        prompt_en=en,
    )


# outcomes ---------------------------------------------------------------------------------------------


def requested(refund: RefundRequest) -> RefundOutcome:
    return RefundOutcome(
        outcome="requested",
        order_id=refund.order_id,
        amount_krw=refund.amount_krw,
        refund_id=refund.refund_id,
        state=refund.state,
        state_label=refund.state_label,
        requested_at=refund.requested_at,
        expected_completion_date=refund.expected_completion_date,
        business_days_total=refund.business_days_total,
        created=refund.created,
        confirmation=None,
        summary_ko=refund.summary_ko,
    )


def _without_refund(row: Mapping[str, Any], kind: str, summary: str) -> RefundOutcome:
    return RefundOutcome(
        outcome=kind,  # type: ignore[arg-type]
        order_id=row["order_id"],
        amount_krw=row["amount_krw"],
        refund_id=None,
        state=None,
        state_label=None,
        requested_at=None,
        expected_completion_date=None,
        business_days_total=None,
        created=False,
        confirmation=pending_view(row) if kind == "confirmation_required" else None,
        summary_ko=summary,
    )


def needs_confirmation(row: Mapping[str, Any]) -> RefundOutcome:
    summary = f"{prompts(row)[0]} 고객님이 확인하시면 confirm_refund로 요청합니다."
    return _without_refund(row, "confirmation_required", summary)


def declined(row: Mapping[str, Any], answered: bool) -> RefundOutcome:
    if answered:
        summary = "고객님께서 확인하지 않으셔서 환불을 요청하지 않았습니다."
    else:
        summary = "확인 응답이 없어 환불을 요청하지 않았습니다. 원하시면 다시 요청해 주세요."
    return _without_refund(row, "declined", summary)


# the flow ---------------------------------------------------------------------------------------------


async def execute(ctx: RequestContext, confirmation_id: str, *, now: datetime | None = None) -> RefundOutcome:
    """Request the refund a customer confirmed: exactly once per confirmation."""
    now = now or datetime.now(UTC)
    row = await store.claim(ctx, confirmation_id, now)
    backend = get_backend()
    try:
        if await backend.refund_by_key(ctx, row["idempotency_key"]) is None:
            checked = await check_refundable(ctx, row["order_id"], now)
            if checked.amount_krw != row["amount_krw"]:
                raise conflict(
                    f"order {row['order_id']} changed after the customer was asked "
                    f"({row['amount_krw']:,}원 → {checked.amount_krw:,}원): call request_refund again"
                )
        refund = await backend.request_refund(ctx, row["order_id"], row["reason"], row["idempotency_key"])
    except SwitchboardError as err:
        await store.release(ctx, confirmation_id)  # nothing was refunded
        if err.code != ErrorCode.UNAVAILABLE:  # the order changed: this question is void, ask anew
            await store.close(ctx, confirmation_id, "expired", now)
        raise  # UNAVAILABLE: the same yes may be retried
    except Exception:
        await store.release(ctx, confirmation_id)
        raise
    await store.settle(ctx, confirmation_id, refund.refund_id)
    return requested(refund)


async def request_refund(order_id: str, reason: str, clean: str, idempotency_key: str, ctx: RequestContext) -> Any:
    """``request_refund``: a RefundOutcome, or an ``InputRequiredResult`` asking the customer."""
    now = datetime.now(UTC)
    fctx = _fastmcp_context()
    backend = get_backend()
    masked = mask_text(clean)[:REASON_MAX]
    if await backend.refund_by_key(ctx, idempotency_key) is not None:  # a retry: that refund, never a new ask
        return requested(await backend.request_refund(ctx, order_id, clean, idempotency_key))
    if _host_confirmed(ctx, _meta(fctx), arguments_sha256(order_id, reason, idempotency_key)) or _read_only(backend):
        # confirmed by the host, or a read-only shop system that refuses at once (never ask for nothing)
        return requested(await backend.request_refund(ctx, order_id, clean, idempotency_key))
    fingerprint = fingerprint_of(order_id, masked)
    modern = is_modern(fctx)
    answers = getattr(fctx, "input_responses", None) if modern else None
    if answers:
        return await _answered(ctx, answers, order_id, idempotency_key, fingerprint, now)
    checked = await check_refundable(ctx, order_id, now)
    elicit = can_elicit(fctx)
    channel = ("input_required" if modern else "elicitation") if elicit else "two_step"
    row = await store.open_pending(
        ctx, checked, reason=masked, idempotency_key=idempotency_key, fingerprint=fingerprint, channel=channel, now=now
    )
    if not elicit:
        return needs_confirmation(row)
    if modern:
        return _input_required(row)
    return await _elicit_now(ctx, fctx, row)


def _host_confirmed(ctx: RequestContext, meta: Mapping[str, Any], digest: str) -> bool:
    grant = meta.get(HOST_META_KEY)
    if not ctx.trusted or grant is None:
        return False  # an untrusted client's claim is ignored: the customer is asked by the server
    if not isinstance(grant, dict) or grant.get("arguments_sha256") != digest:
        raise forbidden("the host's confirmation does not match these arguments: ask the customer again")
    return True


def _read_only(backend: Any) -> bool:
    from servers.order_server.backends.external import WRITE_SET

    sets = getattr(backend, "sets", None)
    return sets is not None and WRITE_SET not in sets


def _input_required(row: Mapping[str, Any]) -> Any:
    import mcp_types

    ko, en = prompts(row)
    request = mcp_types.ElicitRequest(
        params=mcp_types.ElicitRequestFormParams(message=f"{ko}\n{en}", requested_schema=ANSWER_SCHEMA)
    )
    return mcp_types.InputRequiredResult(input_requests={row["confirmation_id"]: request})


async def _answered(
    ctx: RequestContext, answers: Mapping[str, Any], order_id: str, key: str, fingerprint: str, now: datetime
) -> RefundOutcome:
    """The retry of an ``input_required`` round: the customer's answer to a pending confirmation."""
    if len(answers) != 1:
        raise invalid("answer exactly the one question request_refund asked")
    confirmation_id, answer = next(iter(answers.items()))
    row = await store.get(ctx, str(confirmation_id)[:64])
    if row is None:
        raise not_found(
            "the answer does not belong to a refund confirmation of this account: call request_refund again"
        )
    if row["order_id"] != order_id or row["idempotency_key"] != key or row["request_sha256"] != fingerprint:
        raise invalid(
            "the answer belongs to a different refund request: retry with the arguments that were asked about"
        )
    yes = said_yes(answer)
    if yes:
        return await execute(ctx, row["confirmation_id"], now=now)
    if row["status"] == "pending":
        await store.close(ctx, row["confirmation_id"], "declined", now)
    return declined(row, answered=yes is False)


async def _elicit_now(ctx: RequestContext, fctx: Any, row: Mapping[str, Any]) -> RefundOutcome:
    """A 2025-11-25 session: ask over the back-channel and wait for the answer (or give up)."""
    ko, en = prompts(row)
    try:
        async with asyncio.timeout(wait_seconds()):
            answer = await fctx.session.elicit(
                message=f"{ko}\n{en}", requested_schema=ANSWER_SCHEMA, related_request_id=fctx.request_id
            )
    except TimeoutError:
        await store.close(ctx, row["confirmation_id"], "expired")
        return declined(row, answered=False)
    yes = said_yes(answer)
    if yes:
        return await execute(ctx, row["confirmation_id"])
    await store.close(ctx, row["confirmation_id"], "declined")
    return declined(row, answered=yes is False)
