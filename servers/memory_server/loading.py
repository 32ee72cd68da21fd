"""Loading a scope's in-process index from the database: full load, delta by generation."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import not_found
from servers.memory_server.db import generation_reader, memory_engine
from servers.memory_server.generations import _generation, _in_scope
from servers.memory_server.index import Doc, ScopeIndex
from servers.memory_server.scope import Scope
from servers.memory_server.tables import (
    memory_item,
    memory_tombstone,
    memory_vector,
)


class IndexLoading:
    """Keeps each scope's cached :class:`ScopeIndex` current with the database."""

    async def _rows(self, conn: AsyncConnection, key: tuple[str, str], since: int | None) -> list[Any]:
        joined = memory_item.outerjoin(
            memory_vector,
            and_(memory_vector.c.memory_id == memory_item.c.id, memory_vector.c.model_id == self.model_id),
        )
        query = select(memory_item, memory_vector.c.vector).select_from(joined).where(_in_scope(key))
        if since is not None:
            query = query.where(memory_item.c.change_seq > since)
        return list((await conn.execute(query.order_by(memory_item.c.created_at, memory_item.c.id))).mappings())

    def _vector(self, raw: bytes | None) -> np.ndarray | None:
        """A memory's stored vectors as rows (the whole passage, then its sentences); None if unusable."""
        if raw is None:
            return None
        flat = np.frombuffer(raw, dtype=np.float32)
        if flat.shape[0] == 0 or flat.shape[0] % self.dim:
            return None
        return flat.reshape(-1, self.dim)

    async def _full_load(self, conn: AsyncConnection, key: tuple[str, str]) -> ScopeIndex:
        generation = await _generation(conn, key)
        index = ScopeIndex(key[0], key[1], self.dim)
        for row in await self._rows(conn, key, None):
            index.upsert(Doc.from_row(row), self._vector(row["vector"]))
        index.generation = generation
        self.cache.put(key, index)
        return index

    async def _apply_delta(self, conn: AsyncConnection, index: ScopeIndex, generation: int) -> ScopeIndex:
        key = (index.org_id, index.customer_ref)
        since = index.generation
        gone = (
            await conn.execute(
                select(memory_tombstone.c.memory_id).where(
                    memory_tombstone.c.org_id == key[0],
                    memory_tombstone.c.customer_ref == key[1],
                    memory_tombstone.c.change_seq > since,
                )
            )
        ).scalars()
        rows = await self._rows(conn, key, since)
        with index.lock:
            for memory_id in gone:
                index.remove(memory_id)
            for row in rows:
                index.upsert(Doc.from_row(row), self._vector(row["vector"]))
            index.generation = max(generation, index.generation)
        if index.needs_compaction():
            index = index.compacted()
            self.cache.put(key, index)
        return index

    async def _index_locked(self, conn: AsyncConnection, key: tuple[str, str]) -> ScopeIndex:
        """The scope's index brought up to date (caller holds the scope lock)."""
        generation = await _generation(conn, key)
        index = self.cache.get(key)
        if index is None or generation < index.generation:
            return await self._full_load(conn, key)
        if generation > index.generation:
            return await self._apply_delta(conn, index, generation)
        return index

    async def index(self, key: tuple[str, str], conn: AsyncConnection | None = None) -> ScopeIndex:
        """The scope's current index for reading (one cheap generation check when nothing changed)."""
        index = self.cache.get(key)
        if index is not None:
            reader = generation_reader()
            if reader is not None:
                current = reader.generation(key)
            elif conn is not None:
                current = await _generation(conn, key)
            else:
                engine = await memory_engine()
                async with engine.connect() as own:
                    current = await _generation(own, key)
            if current == index.generation:
                return index
        if conn is None:
            engine = await memory_engine()
            async with engine.connect() as own, self.lock(key):
                return await self._index_locked(own, key)
        async with self.lock(key):
            return await self._index_locked(conn, key)

    def _visible(self, doc: Doc | None, scope: Scope) -> Doc:
        if doc is None or (scope.agent_id is not None and doc.agent_id != scope.agent_id):
            raise not_found("no memory with that id for this customer")
        return doc
