"""Export a customer's data (data-subject access): memories with history, statement values, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from servers.memory_server.db import memory_engine
from servers.memory_server.index import aware
from servers.memory_server.models import MemoryOut
from servers.memory_server.tables import memory_history, memory_tombstone, statement_value


async def export_customer(org_id: str, customer_ref: str) -> dict[str, Any]:
    """Everything stored about ``customer_ref`` in ``org_id`` as one JSON-ready object."""
    from servers.memory_server.service import get_service

    service = get_service()
    index = await service.index((org_id, customer_ref))
    docs = sorted((d for d in index.docs if d is not None), key=lambda d: (d.observed_ts, d.id))
    engine = await memory_engine()
    async with engine.connect() as conn:
        history_rows = (
            await conn.execute(
                select(memory_history)
                .where(memory_history.c.org_id == org_id, memory_history.c.customer_ref == customer_ref)
                .order_by(memory_history.c.id)
            )
        ).mappings()
        history: dict[str, list[dict[str, Any]]] = {}
        for row in history_rows:
            history.setdefault(row["memory_id"], []).append(
                {
                    "event": row["event"],
                    "old_text": row["old_text"],
                    "new_text": row["new_text"],
                    "actor": row["actor"],
                    "at": aware(row["at"]),
                    "details": row["details"],
                }
            )
        values = (
            await conn.execute(
                select(statement_value)
                .where(statement_value.c.org_id == org_id, statement_value.c.customer_ref == customer_ref)
                .order_by(statement_value.c.key, statement_value.c.set_at)
            )
        ).mappings()
        statements = [
            {
                "key": r["key"],
                "scope": r["scope"],
                "scope_id": r["scope_id"],
                "value": r["value"],
                "definition_version": r["definition_version"],
                "set_at": aware(r["set_at"]),
                "set_by": r["set_by"],
                "current": r["replaced_at"] is None,
            }
            for r in values
        ]
        tombstones = [
            {
                "memory_id": r["memory_id"],
                "content_hash": r["content_hash"],
                "deleted_at": aware(r["deleted_at"]),
                "deleted_by": r["deleted_by"],
                "reason": r["reason"],
            }
            for r in (
                await conn.execute(
                    select(memory_tombstone).where(
                        memory_tombstone.c.org_id == org_id, memory_tombstone.c.customer_ref == customer_ref
                    )
                )
            ).mappings()
        ]
    return {
        "org_id": org_id,
        "customer_ref": customer_ref,
        "exported_at": datetime.now(UTC),
        "memories": [{**MemoryOut.of(d).model_dump(mode="json"), "history": history.get(d.id, [])} for d in docs],
        "statements": statements,
        "erased": tombstones,
    }
