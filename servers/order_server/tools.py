"""The order tools, their argument contracts and annotations.

Arguments are validated strictly (types, patterns, lengths) before any query runs; the tenant
and customer come from the connection (:func:`servers.kit.request_context`), never from here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from mcp_types import InputRequiredResult, ToolAnnotations
from pydantic import Field

from core.errors import invalid, unavailable
from servers.kit import request_context
from servers.order_server.ids import ORDER_ID_PATTERN
from servers.order_server.models import (
    CallerCheck,
    FoundOrders,
    Order,
    RefundLookup,
    RefundOutcome,
    RefundStatus,
    ShippingStatus,
)
from servers.order_server.phone import PHONE_PATTERN, parse_phone

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$"

RequestKey = Annotated[
    str,
    Field(
        min_length=8,
        max_length=128,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The idempotency_key request_refund was called with",
    ),
]
OrderId = Annotated[
    str,
    Field(
        min_length=4,
        max_length=20,
        pattern=ORDER_ID_PATTERN,
        description='The order number (주문번호): 4-20 digits, no leading zero, e.g. "8841"',
    ),
]
PhoneArg = Annotated[
    str,
    Field(
        min_length=9,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="The customer's Korean mobile number, written any usual way: "
        "010-1234-5678, 01012345678, +82 10 1234 5678",
    ),
]
Reason = Annotated[
    str,
    Field(
        min_length=2, max_length=500, description="Why the customer wants the refund, in their words (e.g. 단순 변심)"
    ),
]
FactorKind = Annotated[
    Literal["name"], Field(description='The second factor asked: "name" (the customer\'s name on the orders)')
]
Factor = Annotated[
    str, Field(min_length=1, max_length=64, description="What the caller said for the factor, e.g. 김민수")
]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=8,
        max_length=128,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="A unique key for this refund request (e.g. a UUID); retry with the same key, never a new one",
    ),
]

ConfirmationId = Annotated[
    str,
    Field(
        min_length=34,
        max_length=34,
        pattern=r"^CF[0-9A-F]{32}$",
        description="The confirmation_id request_refund returned (outcome=confirmation_required)",
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def database_errors(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report an unreachable or busy database as UNAVAILABLE (retryable), not INTERNAL."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from sqlalchemy.exc import DBAPIError, OperationalError

        try:
            return await func(*args, **kwargs)
        except OperationalError as exc:
            raise unavailable("the order database is busy or unreachable: retry shortly") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise unavailable("the order database connection was lost: retry shortly") from exc
            raise
        except OSError as exc:
            raise unavailable("the order database is unreachable: retry shortly") from exc

    return wrapper


def clean_reason(reason: str) -> str:
    """NFC, whitespace collapsed; no control characters or lone surrogates."""
    text = " ".join(unicodedata.normalize("NFC", reason).split())
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise invalid("reason must be plain text (no control characters)")
    if len(text) < 2:
        raise invalid("reason must say in at least 2 characters why the customer wants a refund")
    return text


# The data layer (SQLAlchemy, the backend) is imported on the first call, not at start, so the
# server answers initialize and tools/list as fast as a bare FastMCP server.
def _service() -> Any:
    from servers.order_server import service

    return service


def _callers() -> Any:
    from servers.order_server import callers

    return callers


def _confirmation() -> Any:
    from servers.order_server import confirmation

    return confirmation


def _read_only(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def _write(title: str, *, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=False, idempotent_hint=idempotent, open_world_hint=False
    )


def register(server: Any) -> None:
    """Add the order tools to ``server`` (a kit-built FastMCP)."""

    @server.tool(annotations=_read_only("Get order"))
    @database_errors
    async def get_order(order_id: OrderId) -> Order:
        """Look up one order by its order number (주문번호): status, items, amounts in KRW, dates and a
        shipping summary. An order that does not belong to this account is reported as NOT_FOUND."""
        return await _service().get_order(request_context(), order_id)

    @server.tool(annotations=_read_only("Get refund status"))
    @database_errors
    async def get_refund_status(order_id: OrderId) -> RefundStatus:
        """The refund state of an order (none, requested, processing, completed, rejected), when the
        money is expected back in business days (weekends and Korean holidays skipped), and whether
        a refund can be requested now."""
        return await _service().get_refund_status(request_context(), order_id)

    @server.tool(annotations=_read_only("Get shipping status"))
    @database_errors
    async def get_shipping_status(order_id: OrderId) -> ShippingStatus:
        """Carrier (택배사), tracking number (송장번호) and the latest tracking events of an order."""
        return await _service().get_shipping_status(request_context(), order_id)

    @server.tool(annotations=_read_only("Find orders by phone"))
    @database_errors
    async def find_orders(phone: PhoneArg) -> FoundOrders:
        """A customer's recent orders (newest first, up to 10) by their mobile number. The number is
        returned masked (+82-10-****-5678). No match gives an empty list."""
        return await _service().find_orders(request_context(), parse_phone(phone))

    @server.tool(annotations=_read_only("Find refund request by idempotency key"))
    @database_errors
    async def find_refund_request(key: RequestKey) -> RefundLookup:
        """Whether request_refund already succeeded with this idempotency_key (found, and the refund),
        without changing anything. The host uses it to check a refund request that was interrupted
        (a crash or lost connection before the answer arrived); to answer customers, use
        get_refund_status."""
        return await _service().find_refund_request(request_context(), key)

    @server.tool(annotations=_read_only("Verify caller"))
    @database_errors
    async def verify_caller(phone: PhoneArg, factor_kind: FactorKind, factor: Factor) -> CallerCheck:
        """Check an anonymous caller: the mobile number on record plus a second factor (the name on
        the orders). Returns only whether they match one customer (and that customer's opaque
        reference for the host), never the stored name. Ask the caller; never guess the factor."""
        return await _callers().verify_caller(request_context(), parse_phone(phone), factor_kind, factor)

    @server.tool(annotations=_write("Request refund", idempotent=True))
    @database_errors
    async def request_refund(
        order_id: OrderId, reason: Reason, idempotency_key: IdempotencyKey
    ) -> RefundOutcome | InputRequiredResult:
        """Request a full refund of an order, once the customer has said yes. Refundable: paid and not
        yet shipped, or delivered within the last 7 days, with no refund already under way (otherwise
        CONFLICT, nothing changes). The server asks the customer itself: through the client's
        confirmation dialog (elicitation) when it has one; otherwise the result is
        outcome=confirmation_required with the checked order, product, amount and a
        confirmation_id: read confirmation.prompt_ko to the customer and call confirm_refund only
        after a clear yes. outcome=declined means no refund (the customer said no or did not
        answer). Creates at most one refund per idempotency_key: retrying with the same key and
        arguments returns the same refund (created=false); reusing a key for other arguments is a
        CONFLICT."""
        ctx, text = request_context(), clean_reason(reason)
        return await _confirmation().request_refund(order_id, reason, text, idempotency_key, ctx)

    @server.tool(annotations=_write("Confirm refund", idempotent=False))
    @database_errors
    async def confirm_refund(confirmation_id: ConfirmationId) -> RefundOutcome:
        """Carry out a refund request_refund left waiting (outcome=confirmation_required), after the
        customer said yes to its prompt. Works once per confirmation_id: a second call is a CONFLICT
        (reason confirmation_used), an expired one too (reason confirmation_expired: call
        request_refund again), and an id of another account is NOT_FOUND. Never call it without the
        customer's yes."""
        return await _confirmation().execute(request_context(), confirmation_id)
