"""Refunds waiting for the customer's yes: the ``ord_refund_confirmation`` rows.

A row is opened when ``request_refund`` has to ask (elicitation, an ``input_required`` result or
the two-step flow) and holds the server-checked order, product and amount. It is decided at most
once: ``pending`` → ``confirmed`` (one conditional UPDATE, so two concurrent confirmations cannot
both win), ``declined`` (no, cancel, no answer) or ``expired``. Rows are scoped like orders: the
tenant, and the customer of the connection (another customer's confirmation is NOT_FOUND).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from core.context import RequestContext
from core.db import get_engine, write_transaction
from core.errors import SwitchboardError, conflict, not_found
from servers.order_server.refunds import as_utc
from servers.order_server.tables import refund_confirmation as table

TTL_ENV = "SWITCHBOARD_ORDERS_CONFIRM_TTL_S"
DEFAULT_TTL_S = 600
USED = "confirmation_used"
EXPIRED = "confirmation_expired"
DECLINED = "confirmation_declined"


def ttl() -> timedelta:
    """How long a pending confirmation stays valid (``SWITCHBOARD_ORDERS_CONFIRM_TTL_S``, 30 s-1 day)."""
    try:
        seconds = int(os.environ.get(TTL_ENV, "") or DEFAULT_TTL_S)
    except ValueError:
        seconds = DEFAULT_TTL_S
    return timedelta(seconds=min(max(seconds, 30), 86_400))


@dataclass(frozen=True, slots=True)
class Checked:
    """What the customer is asked to confirm, read from the order backend (never from arguments)."""

    order_id: str
    product: str
    amount_krw: int


def new_confirmation_id() -> str:
    return "CF" + secrets.token_hex(16).upper()


def _scope(ctx: RequestContext) -> ColumnElement[bool]:
    customer = table.c.customer_ref.is_(None) if ctx.customer_ref is None else table.c.customer_ref == ctx.customer_ref
    return and_(table.c.org_id == ctx.org_id, customer)


async def get(ctx: RequestContext, confirmation_id: str) -> Mapping[str, Any] | None:
    """The confirmation in the caller's scope, or None."""
    engine = await get_engine()
    query = select(table).where(_scope(ctx), table.c.confirmation_id == confirmation_id)
    async with engine.connect() as conn:
        return (await conn.execute(query)).mappings().first()


async def open_pending(
    ctx: RequestContext,
    checked: Checked,
    *,
    reason: str,
    idempotency_key: str,
    fingerprint: str,
    channel: str,
    now: datetime | None = None,
) -> Mapping[str, Any]:
    """A pending confirmation for this request: the live one for the same key and arguments, or a
    new one. The same key with other arguments while one is pending is a CONFLICT."""
    now = now or datetime.now(UTC)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        live_query = select(table).where(
            table.c.org_id == ctx.org_id,
            table.c.idempotency_key == idempotency_key,
            table.c.status == "pending",
            table.c.expires_at > now,
        )
        for row in (await conn.execute(live_query)).mappings():
            if row["request_sha256"] != fingerprint or row["customer_ref"] != ctx.customer_ref:
                raise conflict("this idempotency_key is waiting for confirmation of a different refund: use a new key")
            if row["amount_krw"] == checked.amount_krw:
                return row
        values = {
            "org_id": ctx.org_id,
            "confirmation_id": new_confirmation_id(),
            "customer_ref": ctx.customer_ref,
            "order_id": checked.order_id,
            "idempotency_key": idempotency_key,
            "request_sha256": fingerprint,
            "reason": reason,
            "product": checked.product[:200],
            "amount_krw": checked.amount_krw,
            "channel": channel,
            "status": "pending",
            "created_at": now,
            "expires_at": now + ttl(),
            "decided_at": None,
            "refund_id": None,
        }
        await conn.execute(insert(table).values(**values))
    return values


def _refusal(row: Mapping[str, Any], now: datetime) -> SwitchboardError:
    """Why a confirmation cannot be used now (it exists in the caller's scope)."""
    cid = row["confirmation_id"]
    if row["status"] == "confirmed":
        done = f": refund {row['refund_id']}" if row["refund_id"] else ""
        return conflict(f"confirmation {cid} was already used{done}; check it with get_refund_status", reason=USED)
    if row["status"] == "declined":
        return conflict(
            f"confirmation {cid} was declined by the customer: call request_refund again if they change their mind",
            reason=DECLINED,
        )
    if row["status"] == "expired" or as_utc(row["expires_at"]) <= now:
        return conflict(
            f"confirmation {cid} expired: call request_refund again and ask the customer anew", reason=EXPIRED
        )
    return conflict(f"confirmation {cid} cannot be used now")


async def claim(ctx: RequestContext, confirmation_id: str, now: datetime | None = None) -> Mapping[str, Any]:
    """Mark a pending, unexpired confirmation ``confirmed`` (exactly one caller wins) and return it."""
    now = now or datetime.now(UTC)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        statement = (
            update(table)
            .where(
                _scope(ctx),
                table.c.confirmation_id == confirmation_id,
                table.c.status == "pending",
                table.c.expires_at > now,
            )
            .values(status="confirmed", decided_at=now)
        )
        won = (await conn.execute(statement)).rowcount == 1
        row = (
            (await conn.execute(select(table).where(_scope(ctx), table.c.confirmation_id == confirmation_id)))
            .mappings()
            .first()
        )
    if row is None:
        raise not_found(
            f"no refund confirmation {confirmation_id} for this account: "
            "use the confirmation_id request_refund returned"
        )
    if not won:
        raise _refusal(row, now)
    return row


async def _set(ctx: RequestContext, confirmation_id: str, when: ColumnElement[bool], **values: Any) -> None:
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(table).where(_scope(ctx), table.c.confirmation_id == confirmation_id, when).values(**values)
        )


async def settle(ctx: RequestContext, confirmation_id: str, refund_id: str) -> None:
    """Record the refund a confirmed request created."""
    await _set(ctx, confirmation_id, table.c.status == "confirmed", refund_id=refund_id)


async def release(ctx: RequestContext, confirmation_id: str) -> None:
    """Back to pending after a retryable failure (the backend was unavailable): confirm again."""
    await _set(ctx, confirmation_id, table.c.status == "confirmed", status="pending", decided_at=None)


async def close(ctx: RequestContext, confirmation_id: str, status: str, now: datetime | None = None) -> None:
    """A pending confirmation ends without a refund: ``declined`` or ``expired``."""
    await _set(ctx, confirmation_id, table.c.status == "pending", status=status, decided_at=now or datetime.now(UTC))
