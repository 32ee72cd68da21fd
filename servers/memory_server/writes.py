"""The write path: add (dedup, supersede, insert, history) and update, one transaction each."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid
from servers.memory_server import guard
from servers.memory_server.context import forget_vectors, release_linked
from servers.memory_server.db import checkpoint, memory_engine, writing
from servers.memory_server.extract import Candidate
from servers.memory_server.filters import as_utc
from servers.memory_server.generations import FUTURE_SKEW, _bump_generation, now
from servers.memory_server.index import Doc, ScopeIndex
from servers.memory_server.memtokens import lexical_tokens, lexical_tokens_many
from servers.memory_server.passage import opens_with_pronoun
from servers.memory_server.records import AddOutcome, _Batch
from servers.memory_server.scope import Scope
from servers.memory_server.slots import slot_key
from servers.memory_server.supersede import decide, source_key
from servers.memory_server.tables import (
    memory_history,
    memory_item,
    memory_vector,
)
from servers.memory_server.textnorm import MAX_MEMORY_CHARS, clean_text, dedup_hash


def _turn_before(index: ScopeIndex, scope: Scope, i: int, previous: str | None) -> str | None:
    """The memory a turn that opens with a pronoun leans on: the message before it in the same call,
    or, for a call's first message, the last message stored in the scope's run (when it has one)."""
    if i == 0 and scope.run_id:
        return index.latest_message(scope.run_id)
    return previous


class Writes:
    """add / update of :class:`MemoryService`."""

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
        bare = None
        shared = guard.screen_json(metadata, scope.org_id) if metadata else {}  # once, not per candidate
        for cand in candidates:
            text = clean_text(cand.text)
            if not text:
                continue
            if guard.left_out(text, cand.source):
                bare = text
                continue
            text = guard.screen(text, scope.org_id, verbatim=cand.source == "message")
            if len(text) > MAX_MEMORY_CHARS:
                raise invalid(f"a memory is at most {MAX_MEMORY_CHARS} characters (got {len(text)})")
            observed = as_utc(cand.observed_at) if cand.observed_at else default_observed
            if observed > at + FUTURE_SKEW:
                raise invalid("observed_at is in the future")
            # the speaker's name, ids and the caller's metadata are stored too: masked like the text
            cand = replace(
                cand,
                meta={**shared, **guard.screen_json(cand.meta, scope.org_id)},
                context=[guard.screen_value(word, scope.org_id) for word in cand.context],
            )
            prepared.append((cand, text, observed))
        if not prepared:
            if bare is not None:
                guard.screen(bare, scope.org_id)  # says why nothing is stored
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
                    previous: str | None = None
                    for i, ((cand, text, observed), tokens) in enumerate(zip(prepared, token_lists, strict=True)):
                        verbatim = cand.source == "message"
                        leans = verbatim and opens_with_pronoun(text)
                        outcome = await self._add_one(
                            conn,
                            index,
                            batch,
                            scope,
                            cand,
                            text,
                            observed,
                            tokens,
                            generation,
                            at,
                            context_id=_turn_before(index, scope, i, previous) if leans else None,
                        )
                        outcomes.append(outcome)
                        previous = (outcome.id or None) if verbatim else None
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
        generation: int,
        at: datetime,
        context_id: str | None = None,
    ) -> AddOutcome:
        """Store one candidate; ``context_id`` is the memory of the turn before a turn that opens
        with a pronoun (its vectors read both: ``passage.py``)."""
        content_hash = dedup_hash(text)
        slot = slot_key(cand.slots)
        slot_values = guard.screen_slots(cand.slots, scope.org_id)
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
            source=source_key(cand.meta),
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
            "meta": cand.meta,
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
            "context_id": context_id,
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
            index.upsert(replaced, None)  # same text: the index keeps its vectors

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

    async def update(self, scope: Scope, memory_id: str, text: str) -> Doc:
        """Replace a memory's text (history keeps old and new); its vectors are recomputed, and so
        are those of the turn after it when they read this one's text (``context.py``)."""
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
                        "slot_values": guard.screen_slots(slots, scope.org_id) or None,
                        "categories": categorize(text, slots),
                        "kind": old.kind if old.kind == "message" else kind_of(text, slots),
                        "updated_at": at,
                        "change_seq": generation,
                        "vector_model": None,
                    }
                    if old.context_id is not None and not (old.kind == "message" and opens_with_pronoun(text)):
                        values["context_id"] = None  # the new text no longer leans on the turn before
                    await conn.execute(update(memory_item).where(memory_item.c.id == memory_id).values(**values))
                    await conn.execute(delete(memory_vector).where(memory_vector.c.memory_id == memory_id))
                    released = await release_linked(conn, key, [memory_id], generation, unlink=False)
                    forget_vectors(index, released, unlink=False)
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
            self.worker.enqueue([(memory_id, key), *((linked, key) for linked in released)])
        return doc
