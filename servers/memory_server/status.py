"""How far the background embedding is: per customer scope (MCP results) and per database (CLI).

A memory is *done* when it has a vector from the current model and passage format, *pending*
while it waits for the vector worker. With vectors switched off (``SWITCHBOARD_MEMORY_VECTORS=off``)
nothing is ever pending: the counts say ``enabled: false, pending: 0`` instead of waiting forever.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from servers.memory_server.db import memory_engine
from servers.memory_server.index import ScopeIndex
from servers.memory_server.models import VectorStatus
from servers.memory_server.tables import memory_item


def scope_vectors(index: ScopeIndex, enabled: bool) -> VectorStatus:
    """Done/pending counts of one scope's live memories, from its in-process index."""
    with index.lock:
        n = index.size
        alive = index.alive[:n]
        done = int((alive & index.has_vec[:n]).sum())
        total = int(alive.sum())
    return VectorStatus(enabled=enabled, done=done if enabled else 0, pending=(total - done) if enabled else 0)


async def database_status(service: Any, org_id: str | None = None) -> dict[str, Any]:
    """Totals over the database (or one org): memories, scopes, vectors done and pending."""
    engine = await memory_engine()
    model = service.model_id
    where = [] if org_id is None else [memory_item.c.org_id == org_id]
    async with engine.connect() as conn:
        total, scopes, superseded, done = (
            await conn.execute(
                select(
                    func.count(),
                    func.count(func.distinct(memory_item.c.org_id + "/" + memory_item.c.customer_ref)),
                    func.count().filter(memory_item.c.status == "superseded"),
                    func.count().filter(memory_item.c.vector_model == model),
                ).where(*where)
            )
        ).one()
    enabled = bool(service.vectors)
    return {
        "org": org_id,
        "memories": int(total),
        "customers": int(scopes),
        "superseded": int(superseded),
        "vectors_enabled": enabled,
        "vector_model": model if enabled else None,
        "vectors_done": int(done) if enabled else 0,
        "vectors_pending": int(total - done) if enabled else 0,
        "worker_queue": service.worker.pending if service.worker is not None else None,
    }
