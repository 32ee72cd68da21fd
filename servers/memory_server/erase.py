"""Erasing memories: one, all of a scope, or a whole customer; only tombstones remain."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.memory_server.context import forget_vectors, release_linked
from servers.memory_server.db import checkpoint, memory_engine, writing
from servers.memory_server.generations import _bump_generation, _in_scope, now
from servers.memory_server.records import Removal
from servers.memory_server.scope import Scope
from servers.memory_server.tables import (
    memory_erasure,
    memory_history,
    memory_item,
    memory_tombstone,
    memory_vector,
)
from servers.memory_server.textnorm import tombstone_hash


class Erase:
    """delete / delete_all / erase_customer of :class:`MemoryService`."""

    async def delete(self, scope: Scope, memory_id: str, reason: str = "delete_memory") -> dict[str, Any]:
        """Erase one memory everywhere; only a tombstone (id, hash, time, actor) remains. A memory
        whose vectors read this one's text (the turn after it: ``context.py``) is embedded again."""
        key = scope.key
        engine = await memory_engine()
        async with self.lock(key):
            try:
                async with writing() as conn:
                    generation = await _bump_generation(conn, key, now())
                    index = await self._index_locked(conn, key)
                    doc = self._visible(index.get(memory_id), scope)
                    removal = await self._erase(conn, key, [doc.id], scope.actor, reason, generation)
                    index.remove(doc.id)
                    forget_vectors(index, removal["released"], unlink=True)
                index.generation = generation
            except BaseException:
                self.cache.drop(key)
                raise
        self._reembed(key, removal["released"])
        checkpointed = await checkpoint(engine)
        return {"id": memory_id, "tombstone": removal["tombstones"][0], "wal_checkpointed": checkpointed}

    async def delete_all(self, scope: Scope, reason: str = "delete_all") -> Removal:
        """Erase every memory of the scope (narrowed by agent/run when given)."""
        key = scope.key
        engine = await memory_engine()
        async with self.lock(key):
            try:
                async with writing() as conn:
                    generation = await _bump_generation(conn, key, now())
                    index = await self._index_locked(conn, key)
                    ids = [
                        d.id
                        for d in index.docs
                        if d is not None
                        and (scope.agent_id is None or d.agent_id == scope.agent_id)
                        and (scope.run_id is None or d.run_id == scope.run_id)
                    ]
                    result = Removal(ids=ids)
                    released: list[str] = []
                    if ids:
                        removal = await self._erase(conn, key, ids, scope.actor, reason, generation)
                        for memory_id in ids:
                            index.remove(memory_id)
                        released = removal["released"]
                        forget_vectors(index, released, unlink=True)
                        result.memories, result.vectors = removal["memories"], removal["vectors"]
                        result.history_rows = removal["history_rows"]
                index.generation = generation
            except BaseException:
                self.cache.drop(key)
                raise
        self._reembed(key, released)
        result.wal_checkpointed = await checkpoint(engine)
        return result

    def _reembed(self, key: tuple[str, str], ids: list[str]) -> None:
        """Queue memories whose vectors were dropped (their context changed) for the vector worker."""
        if ids and self.worker is not None:
            self.worker.enqueue([(memory_id, key) for memory_id in ids])

    async def _erase(
        self, conn: AsyncConnection, key: tuple[str, str], ids: list[str], actor: str, reason: str, generation: int
    ) -> dict[str, Any]:
        at = now()
        tombstones = []
        memories = vectors = history_rows = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = (
                await conn.execute(
                    select(memory_item.c.id, memory_item.c.text).where(_in_scope(key), memory_item.c.id.in_(chunk))
                )
            ).all()
            for memory_id, text in rows:
                tombstones.append(
                    {
                        "memory_id": memory_id,
                        "org_id": key[0],
                        "customer_ref": key[1],
                        "content_hash": tombstone_hash(memory_id, text),
                        "deleted_at": at,
                        "deleted_by": actor,
                        "reason": reason,
                        "change_seq": generation,
                    }
                )
            found = [r[0] for r in rows]
            if not found:
                continue
            history_rows += (
                await conn.execute(delete(memory_history).where(memory_history.c.memory_id.in_(found)))
            ).rowcount
            vectors += (await conn.execute(delete(memory_vector).where(memory_vector.c.memory_id.in_(found)))).rowcount
            memories += (await conn.execute(delete(memory_item).where(memory_item.c.id.in_(found)))).rowcount
        if tombstones:
            await conn.execute(insert(memory_tombstone), tombstones)
        released = await release_linked(conn, key, [t["memory_id"] for t in tombstones], generation, unlink=True)
        return {
            "released": released,
            "memories": memories,
            "vectors": vectors,
            "history_rows": history_rows,
            "tombstones": [
                {
                    "memory_id": t["memory_id"],
                    "content_hash": t["content_hash"],
                    "deleted_at": t["deleted_at"],
                    "deleted_by": t["deleted_by"],
                }
                for t in tombstones
            ],
        }

    async def erase_customer(self, org_id: str, customer_ref: str, actor: str) -> tuple[str, Removal]:
        """A data-subject erase: every memory, vector, history row and statement value of a customer."""
        from servers.memory_server.tables import statement_value

        scope = Scope(org_id, customer_ref, actor=actor)
        removal = await self.delete_all(scope, reason="erase")
        engine = await memory_engine()
        erasure_id = str(uuid.uuid4())
        async with writing() as conn:
            removal.statement_values = (
                await conn.execute(
                    delete(statement_value).where(
                        statement_value.c.org_id == org_id, statement_value.c.customer_ref == customer_ref
                    )
                )
            ).rowcount
            # memory_history rows are deleted with their memories; catch any orphans of this customer too
            removal.history_rows += (
                await conn.execute(
                    delete(memory_history).where(
                        memory_history.c.org_id == org_id, memory_history.c.customer_ref == customer_ref
                    )
                )
            ).rowcount
            await conn.execute(
                insert(memory_erasure).values(
                    id=erasure_id,
                    org_id=org_id,
                    customer_ref=customer_ref,
                    requested_by=actor,
                    at=now(),
                    report={
                        "memories": removal.memories,
                        "vectors": removal.vectors,
                        "history_rows": removal.history_rows,
                        "statement_values": removal.statement_values,
                    },
                )
            )
        removal.wal_checkpointed = await checkpoint(engine)
        return erasure_id, removal
