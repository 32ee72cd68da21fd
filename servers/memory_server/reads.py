"""Reads: get, history, keyset-paginated list, hybrid search and counts."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core.errors import invalid, not_found
from servers.memory_server import subqueries
from servers.memory_server.db import memory_engine
from servers.memory_server.filters import MemoryFilters, matches
from servers.memory_server.index import Doc
from servers.memory_server.ranking import Hit, RankOptions, base_mask, rank
from servers.memory_server.records import Page
from servers.memory_server.scope import Scope
from servers.memory_server.tables import (
    memory_history,
    memory_item,
    memory_tombstone,
)
from servers.memory_server.timeframe import Window, find_window


class Reads:
    """get / history / list / search / counts of :class:`MemoryService`."""

    async def get(self, scope: Scope, memory_id: str) -> Doc:
        index = await self.index(scope.key)
        return self._visible(index.get(memory_id), scope)

    async def history(self, scope: Scope, memory_id: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """(events, tombstone): a live memory's history, or the tombstone of an erased one."""
        engine = await memory_engine()
        async with engine.connect() as conn:
            index = await self.index(scope.key, conn)
            doc = index.get(memory_id)
            if doc is not None:
                self._visible(doc, scope)
                rows = (
                    await conn.execute(
                        select(memory_history)
                        .where(
                            memory_history.c.memory_id == memory_id,
                            memory_history.c.org_id == scope.org_id,
                            memory_history.c.customer_ref == scope.customer_ref,
                        )
                        .order_by(memory_history.c.id)
                    )
                ).mappings()
                return [dict(r) for r in rows], None
            tomb = (
                (
                    await conn.execute(
                        select(memory_tombstone).where(
                            memory_tombstone.c.memory_id == memory_id,
                            memory_tombstone.c.org_id == scope.org_id,
                            memory_tombstone.c.customer_ref == scope.customer_ref,
                        )
                    )
                )
                .mappings()
                .first()
            )
        if tomb is None:
            raise not_found("no memory with that id for this customer")
        return [], dict(tomb)

    async def list(
        self,
        scope: Scope,
        filters: MemoryFilters | None,
        *,
        limit: int = 20,
        cursor: str | None = None,
        include_superseded: bool = False,
        order: str = "newest",
    ) -> Page:
        """One page of memories by observation time (keyset pagination: stable under inserts)."""
        index = await self.index(scope.key)
        filters = _narrow(filters, scope)
        after = _decode_cursor(cursor, order) if cursor else None
        with index.lock:
            mask = base_mask(index, RankOptions(filters=filters, include_superseded=include_superseded))
            positions = np.flatnonzero(mask)
            docs = [d for p in positions if (d := index.docs[int(p)]) is not None and matches(filters, d)]
        reverse = order == "newest"
        docs.sort(key=lambda d: (d.observed_ts, d.id), reverse=reverse)
        if after is not None:
            docs = [d for d in docs if ((d.observed_ts, d.id) < after if reverse else (d.observed_ts, d.id) > after)]
        page = docs[:limit]
        next_cursor = _encode_cursor(page[-1], order) if len(docs) > limit else None
        return Page(page, next_cursor)

    async def search(
        self,
        scope: Scope,
        query: str,
        opts: RankOptions,
    ) -> list[Hit]:
        """Hybrid lexical + dense search within the scope."""
        from servers.retrieval.korean import tokenize

        opts.filters = _narrow(opts.filters, scope)
        texts = [query, *subqueries.parts(query)]  # a compound question: each part too
        vector_task = None
        if self.vectors and opts.mode != "lexical":
            vector_task = asyncio.gather(*(self._query_vector(text) for text in texts))
        index = await self.index(scope.key)
        tokens = [tokenize(text) for text in texts]
        vectors: list[np.ndarray | None] = [None] * len(texts)
        if vector_task is not None:
            try:
                vectors = list(await vector_task)
            except Exception:
                vectors = [None] * len(texts)
        window = question_window(query, opts)
        parts = list(zip(tokens[1:], vectors[1:], strict=True))
        with index.lock:
            return rank(index, tokens[0], vectors[0], opts, parts=parts, window=window)

    async def _query_vector(self, query: str) -> np.ndarray:
        from servers.retrieval.query_vectors import query_vectors

        return await asyncio.to_thread(query_vectors.get, self.embedder, query)

    async def counts(self, scope: Scope) -> dict[str, int]:
        index = await self.index(scope.key)
        docs = [d for d in index.docs if d is not None]
        return {
            "active": sum(1 for d in docs if d.status == "active"),
            "superseded": sum(1 for d in docs if d.status == "superseded"),
            "with_vectors": int(index.has_vec[: index.size].sum()),
        }

    async def pending_vectors(self) -> int:
        """Memories waiting for a vector (0 when vectors are off: nothing will ever compute them)."""
        if not self.vectors:
            return 0
        engine = await memory_engine()
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(memory_item)
                        .where((memory_item.c.vector_model.is_(None)) | (memory_item.c.vector_model != self.model_id))
                    )
                ).scalar_one()
            )


def question_window(query: str, opts: RankOptions) -> Window | None:
    """The observation times ``query`` names ("two weeks ago"), counted from when it is asked."""
    return find_window(query, _reference(opts))


def _reference(opts: RankOptions) -> datetime:
    """When the question is asked: the caller's reference time, else ``as_of``, else now."""
    moment = opts.reference if opts.reference is not None else opts.as_of
    return datetime.fromtimestamp(moment, UTC) if moment is not None else datetime.now(UTC)


def _narrow(filters: MemoryFilters | None, scope: Scope) -> MemoryFilters | None:
    """Add the scope's own agent/run narrowing to the caller's filters (never widening)."""
    if scope.agent_id is None and scope.run_id is None:
        return filters
    data = filters.model_dump(by_alias=True, exclude_none=True) if filters is not None else {}
    for name in ("agent_id", "run_id"):
        mine = getattr(scope, name)
        if mine is None:
            continue
        if data.get(name) not in (None, mine):
            raise invalid(f"filters.{name} differs from the {name} this call is scoped to")
        data[name] = mine
    return MemoryFilters.model_validate(data)


def _encode_cursor(doc: Doc, order: str) -> str:
    raw = json.dumps({"t": doc.observed_ts, "id": doc.id, "o": order}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if data.get("o") != order:
            raise ValueError("order changed")
        return float(data["t"]), str(data["id"])
    except Exception:
        raise invalid("cursor is not valid for this listing: start again without a cursor") from None
