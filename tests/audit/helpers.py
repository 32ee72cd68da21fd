"""Shared helpers for the audit tests: events, raw SQL, and switching the append-only guards off
(what an attacker with direct database access would do)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from audit import AuditEvent, append
from core.db import get_engine, is_sqlite

TABLES = ("audit_event", "audit_value_hmac", "audit_prune", "audit_chain_head")
SQLITE_TRIGGERS = (
    "audit_event_no_update",
    "audit_event_no_delete",
    "audit_value_hmac_no_update",
    "audit_value_hmac_no_delete",
    "audit_prune_no_update",
    "audit_prune_no_delete",
    "audit_chain_head_no_delete",
    "audit_chain_head_forward",
)


def event(i: int = 0, org: str = "acme", **extra: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "org_id": org,
        "event_type": "tool_call",
        "source": "server:orders",
        "actor": "client:test",
        "tool_name": "get_order",
        "server_name": "orders",
        "server_version": "1.0.0",
        "trace_id": f"trace-{i}",
        "arguments": {"order_id": f"ORD-{i:04d}", "phone": "010-1234-5678"},
        "result": {"status": "shipped", "total": 12000},
        "is_error": False,
        "latency_ms": 1.25,
    }
    fields.update(extra)
    return AuditEvent(**fields)


async def seed(n: int, org: str = "acme") -> list[Any]:
    return [await append(event(i, org)) for i in range(n)]


async def sql(statement: str, params: dict[str, Any] | None = None) -> Any:
    engine = await get_engine()
    async with engine.begin() as conn:
        result = await conn.execute(text(statement), params or {})
        return result.fetchall() if result.returns_rows else result.rowcount


async def drop_guards() -> None:
    """Switch the append-only triggers off, as someone with direct database access could."""
    engine = await get_engine()
    async with engine.begin() as conn:
        if is_sqlite(engine):
            for name in SQLITE_TRIGGERS:
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            for table in TABLES:
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
