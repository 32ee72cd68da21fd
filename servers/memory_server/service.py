"""The memory service: write path (dedup, supersede), reads, search and erase over one database.

One :class:`MemoryService` per process and database (:func:`get_service`). It owns the per-scope
index cache and the background vector worker. Every write runs in one transaction that takes the
scope's write lock (SQLite ``BEGIN IMMEDIATE``; a row lock on ``memory_scope`` on PostgreSQL), so
concurrent adds for one customer are serialised and nothing is lost; decisions are made against
an index that is exactly current under that lock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid, not_found
from core.settings import get_settings
from servers.memory_server import guard
from servers.memory_server.db import checkpoint, generation_reader, memory_engine, writing
from servers.memory_server.extract import Candidate
from servers.memory_server.filters import MemoryFilters, as_utc, matches
from servers.memory_server.index import Doc, IndexCache, ScopeIndex
from servers.memory_server.ranking import Hit, RankOptions, base_mask, rank
from servers.memory_server.scope import Scope
from servers.memory_server.slots import slot_key
from servers.memory_server.supersede import decide
from servers.memory_server.tables import (
    memory_erasure,
    memory_history,
    memory_item,
    memory_scope,
    memory_tombstone,
    memory_vector,
)
from servers.memory_server.textnorm import MAX_MEMORY_CHARS, clean_text, dedup_hash, tombstone_hash

FUTURE_SKEW = timedelta(minutes=10)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class AddOutcome:
    """What happened to one candidate."""

    id: str
    text: str
    event: str  # ADD | NONE | SUPERSEDE
    status: str
    duplicate_of: str | None = None
    superseded: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    items: list[Doc]
    next_cursor: str | None


@dataclass(slots=True)
class Removal:
    """Counts of what an erase removed."""

    memories: int = 0
    vectors: int = 0
    history_rows: int = 0
    statement_values: int = 0
    ids: list[str] = field(default_factory=list)
    wal_checkpointed: bool = True


def vectors_enabled() -> bool:
    """Dense vectors are on unless ``SWITCHBOARD_MEMORY_VECTORS=off``."""
    return os.environ.get("SWITCHBOARD_MEMORY_VECTORS", "on").strip().lower() not in {"0", "off", "false", "no"}


@dataclass(slots=True)
class _Batch:
    """Rows of one add transaction, inserted together at its end."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)


def lexical_tokens(text: str, context: list[str] | None = None) -> list[str]:
    """Index tokens of a memory: its text's morphemes plus context words (e.g. the speaker's name)."""
    return lexical_tokens_many([(text, context or [])])[0]


def lexical_tokens_many(items: list[tuple[str, list[str]]]) -> list[list[str]]:
    from servers.retrieval.korean import tokenize, tokenize_many

    lists = [tokenize(items[0][0])] if len(items) == 1 else tokenize_many([text for text, _ in items])
    for tokens, (_, context) in zip(lists, items, strict=True):
        for word in context:
            tokens.extend(tokenize(word))
    return lists


async def _bump_generation(conn: AsyncConnection, key: tuple[str, str], at: datetime) -> int:
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    stmt = dialect_insert(memory_scope).values(org_id=key[0], customer_ref=key[1], generation=1, updated_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "customer_ref"],
        set_={"generation": memory_scope.c.generation + 1, "updated_at": at},
    ).returning(memory_scope.c.generation)
    return int((await conn.execute(stmt)).scalar_one())


async def _generation(conn: AsyncConnection, key: tuple[str, str]) -> int:
    value = (
        await conn.execute(
            select(memory_scope.c.generation).where(
                memory_scope.c.org_id == key[0], memory_scope.c.customer_ref == key[1]
            )
        )
    ).scalar()
    return int(value or 0)


def _in_scope(key: tuple[str, str]) -> Any:
    return and_(memory_item.c.org_id == key[0], memory_item.c.customer_ref == key[1])


class MemoryService:
    """Memories of every scope in one database, with an in-process index per scope."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cache = IndexCache()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.vectors = vectors_enabled()
        self._embedder: Any = None
        self.worker: Any = None  # servers.memory_server.vectors.VectorWorker when running

    # ------------------------------------------------------------------ embedding model
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from servers.retrieval.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    @property
    def model_id(self) -> str:
        return self.embedder.model_id if self.vectors else "none"

    @property
    def dim(self) -> int:
        return int(self.embedder.dim) if self.vectors else 1

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # ------------------------------------------------------------------ index loading
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
        if raw is None:
            return None
        vec = np.frombuffer(raw, dtype=np.float32)
        return vec if vec.shape[0] == self.dim else None

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

    # ------------------------------------------------------------------ write path
    async def add(
        self,
        scope: Scope,
        candidates: list[Candidate],
        *,
        observed_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[AddOutcome]:
        """Store ``candidates`` in one transaction: dedup, supersede, insert, record history."""
        at = now()
        default_observed = as_utc(observed_at) if observed_at else at
        prepared = []
        for cand in candidates:
            text = clean_text(cand.text)
            if not text:
                continue
            text = guard.screen(text, scope.org_id)
            if len(text) > MAX_MEMORY_CHARS:
                raise invalid(f"a memory is at most {MAX_MEMORY_CHARS} characters (got {len(text)})")
            observed = as_utc(cand.observed_at) if cand.observed_at else default_observed
            if observed > at + FUTURE_SKEW:
                raise invalid("observed_at is in the future")
            prepared.append((cand, text, observed))
        if not prepared:
            raise invalid("nothing to remember: the text or messages are empty")
        token_lists = lexical_tokens_many([(text, cand.context) for cand, text, _ in prepared])
        key = scope.key
        outcomes: list[AddOutcome] = []
        async with self.lock(key):
            try:
                async with writing() as conn:
                    generation = await _bump_generation(conn, key, at)  # takes the scope's write lock first
                    index = self.cache.get(key)
                    if index is None or index.generation != generation - 1:
                        index = await self._index_locked(conn, key)
                    batch = _Batch()
                    for (cand, text, observed), tokens in zip(prepared, token_lists, strict=True):
                        outcomes.append(
                            await self._add_one(
                                conn, index, batch, scope, cand, text, observed, tokens, metadata, generation, at
                            )
                        )
                    if batch.rows:
                        await conn.execute(insert(memory_item), batch.rows)
                    if batch.history:
                        await conn.execute(insert(memory_history), batch.history)
                index.generation = generation
            except BaseException:
                self.cache.drop(key)  # tentative index changes may not match the database
                raise
        new_ids = [(o.id, key) for o in outcomes if o.event != "NONE"]
        if new_ids and self.worker is not None:
            self.worker.enqueue(new_ids)
        return outcomes

    async def _add_one(
        self,
        conn: AsyncConnection,
        index: ScopeIndex,
        batch: _Batch,
        scope: Scope,
        cand: Candidate,
        text: str,
        observed: datetime,
        tokens: list[str],
        metadata: dict[str, Any] | None,
        generation: int,
        at: datetime,
    ) -> AddOutcome:
        content_hash = dedup_hash(text)
        slot = slot_key(cand.slots)
        slot_values = {m.slot: m.value for m in cand.slots}
        stored_slot = slot if slot is None or cand.pure else f"~{slot}"[:200]
        decision = decide(
            index,
            text=text,
            content_hash=content_hash,
            tokens=tokens,
            slot=slot,
            slot_values=slot_values,
            observed_ts=observed.timestamp(),
            agent_id=scope.agent_id,
            verbatim=cand.source == "message",
            pure=cand.pure,
        )
        for target in cand.supersedes:
            doc = index.get(target)
            if (
                decision.event != "NONE"
                and decision.status == "active"
                and doc is not None
                and doc.status == "active"
                and doc.agent_id == scope.agent_id
                and all(d.id != doc.id for d in decision.supersede)
            ):
                decision.supersede.append(doc)
        if decision.event == "NONE":
            existing = index.get(decision.duplicate_of or "")
            return AddOutcome(
                decision.duplicate_of or "",
                existing.text if existing else text,
                "NONE",
                existing.status if existing else "active",
                duplicate_of=decision.duplicate_of,
            )
        memory_id = str(uuid.uuid4())
        row = {
            "id": memory_id,
            "org_id": scope.org_id,
            "customer_ref": scope.customer_ref,
            "agent_id": scope.agent_id,
            "run_id": scope.run_id,
            "text": text,
            "content_hash": content_hash,
            "tokens": " ".join(tokens),
            "kind": cand.kind,
            "categories": cand.categories,
            "meta": {**(metadata or {}), **cand.meta},
            "slot": stored_slot,
            "slot_values": slot_values or None,
            "source": cand.source,
            "status": decision.status,
            "observed_at": observed,
            "created_at": at,
            "updated_at": at,
            "valid_to": decision.valid_to,
            "superseded_by": decision.superseded_by,
            "change_seq": generation,
            "vector_model": None,
        }
        batch.rows.append(row)
        batch.pending[memory_id] = row
        batch.history.append(
            self._history_row(
                scope,
                memory_id,
                "ADD",
                None,
                text,
                at,
                {"source": cand.source, "status": decision.status, "slot": stored_slot},
            )
        )
        index.upsert(Doc.from_row(row), None)
        superseded: list[str] = []
        for old in decision.supersede:
            await self._mark_superseded(conn, index, batch, scope, old, memory_id, observed, generation, at)
            superseded.append(old.id)
        if decision.relink is not None:
            await self._mark_superseded(conn, index, batch, scope, decision.relink, memory_id, observed, generation, at)
        if decision.superseded_by:
            batch.history.append(
                self._history_row(
                    scope, memory_id, "SUPERSEDED", None, None, at, {"by": decision.superseded_by, "backfilled": True}
                )
            )
        return AddOutcome(memory_id, text, "SUPERSEDE" if superseded else "ADD", decision.status, superseded=superseded)

    async def _mark_superseded(
        self,
        conn: AsyncConnection,
        index: ScopeIndex,
        batch: _Batch,
        scope: Scope,
        old: Doc,
        new_id: str,
        valid_to: datetime,
        generation: int,
        at: datetime,
    ) -> None:
        changes = {
            "status": "superseded",
            "valid_to": valid_to,
            "superseded_by": new_id,
            "change_seq": generation,
            "updated_at": at,
        }
        pending = batch.pending.get(old.id)
        if pending is not None:
            pending.update(changes)  # inserted at the end of this transaction
        else:
            await conn.execute(update(memory_item).where(memory_item.c.id == old.id).values(**changes))
        batch.history.append(self._history_row(scope, old.id, "SUPERSEDED", None, None, at, {"by": new_id}))
        pos = index.pos_of.get(old.id)
        replaced = replace(
            old,
            status="superseded",
            valid_to=valid_to,
            superseded_by=new_id,
            valid_to_ts=valid_to.timestamp(),
            updated_at=at,
        )
        if pos is not None:
            index.upsert(replaced, index.vectors[pos] if index.has_vec[pos] else None)

    @staticmethod
    def _history_row(
        scope: Scope,
        memory_id: str,
        event: str,
        old_text: str | None,
        new_text: str | None,
        at: datetime,
        details: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "memory_id": memory_id,
            "org_id": scope.org_id,
            "customer_ref": scope.customer_ref,
            "event": event,
            "old_text": old_text,
            "new_text": new_text,
            "actor": scope.actor,
            "at": at,
            "details": details,
        }

    async def _history(
        self,
        conn: AsyncConnection,
        scope: Scope,
        memory_id: str,
        event: str,
        old_text: str | None,
        new_text: str | None,
        at: datetime,
        details: dict[str, Any],
    ) -> None:
        await conn.execute(
            insert(memory_history).values(**self._history_row(scope, memory_id, event, old_text, new_text, at, details))
        )

    def _visible(self, doc: Doc | None, scope: Scope) -> Doc:
        if doc is None or (scope.agent_id is not None and doc.agent_id != scope.agent_id):
            raise not_found("no memory with that id for this customer")
        return doc

    async def update(self, scope: Scope, memory_id: str, text: str) -> Doc:
        """Replace a memory's text (history keeps old and new); its vector is recomputed."""
        from servers.memory_server.extract import categorize, kind_of, subject_slots

        text = clean_text(text)
        if not text:
            raise invalid("text is empty")
        text = guard.screen(text, scope.org_id)
        if len(text) > MAX_MEMORY_CHARS:
            raise invalid(f"a memory is at most {MAX_MEMORY_CHARS} characters")
        key = scope.key
        at = now()
        engine = await memory_engine()
        async with self.lock(key):
            try:
                async with writing() as conn:
                    generation = await _bump_generation(conn, key, at)
                    index = await self._index_locked(conn, key)
                    old = self._visible(index.get(memory_id), scope)
                    slots, pure = subject_slots(text)
                    slot = slot_key(slots)
                    context = [str(old.meta["speaker"])] if old.meta.get("speaker") else []
                    tokens = lexical_tokens(text, context)
                    values = {
                        "text": text,
                        "content_hash": dedup_hash(text),
                        "tokens": " ".join(tokens),
                        "slot": slot if slot is None or pure else f"~{slot}"[:200],
                        "slot_values": {m.slot: m.value for m in slots} or None,
                        "categories": categorize(text, slots),
                        "kind": old.kind if old.kind == "message" else kind_of(text, slots),
                        "updated_at": at,
                        "change_seq": generation,
                        "vector_model": None,
                    }
                    await conn.execute(update(memory_item).where(memory_item.c.id == memory_id).values(**values))
                    await conn.execute(delete(memory_vector).where(memory_vector.c.memory_id == memory_id))
                    await self._history(conn, scope, memory_id, "UPDATE", old.text, text, at, {})
                    row = (
                        (await conn.execute(select(memory_item).where(memory_item.c.id == memory_id))).mappings().one()
                    )
                    doc = Doc.from_row(row)
                    index.upsert(doc, None)
                index.generation = generation
            except BaseException:
                self.cache.drop(key)
                raise
        await checkpoint(engine)
        if self.worker is not None:
            self.worker.enqueue([(memory_id, key)])
        return doc

    # ------------------------------------------------------------------ erase
    async def delete(self, scope: Scope, memory_id: str, reason: str = "delete_memory") -> dict[str, Any]:
        """Erase one memory everywhere; only a tombstone (id, hash, time, actor) remains."""
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
                index.generation = generation
            except BaseException:
                self.cache.drop(key)
                raise
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
                    if ids:
                        removal = await self._erase(conn, key, ids, scope.actor, reason, generation)
                        for memory_id in ids:
                            index.remove(memory_id)
                        result.memories, result.vectors = removal["memories"], removal["vectors"]
                        result.history_rows = removal["history_rows"]
                index.generation = generation
            except BaseException:
                self.cache.drop(key)
                raise
        result.wal_checkpointed = await checkpoint(engine)
        return result

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
        return {
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

    # ------------------------------------------------------------------ reads
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
        vector_task = None
        if self.vectors and opts.mode != "lexical":
            vector_task = asyncio.create_task(self._query_vector(query))
        index = await self.index(scope.key)
        tokens = tokenize(query)
        query_vector = None
        if vector_task is not None:
            try:
                query_vector = await vector_task
            except Exception:
                query_vector = None
        with index.lock:
            return rank(index, tokens, query_vector, opts)

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


_services: dict[str, MemoryService] = {}


def get_service() -> MemoryService:
    """The process-wide service for the configured database."""
    url = get_settings().resolved_database_url
    service = _services.get(url)
    if service is None:
        from servers.retrieval.threads import limit_blas_threads

        limit_blas_threads()  # vector products are small: one BLAS thread is faster on shared cores
        service = _services[url] = MemoryService(url)
    return service


async def reset_services() -> None:
    """Stop workers, forget every service and cached index and close database connections
    (end of a CLI command or a test: pooled connections belong to the event loop that made them)."""
    from core.db import dispose_engines
    from servers.memory_server.db import dispose_memory_engines
    from servers.retrieval.query_vectors import query_vectors

    services = list(_services.values())
    _services.clear()
    for service in services:
        if service.worker is not None:
            await service.worker.stop()
        service.cache.clear()
    query_vectors.clear()
    await dispose_memory_engines()
    await dispose_engines()
