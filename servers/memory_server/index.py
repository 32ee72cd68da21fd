"""The in-process search index of one (org, customer) scope: lexical postings, vectors, attributes.

The database is the truth; an index mirrors one scope's rows and is kept current by the scope's
``generation`` counter: every write bumps it and stamps the rows it touched (``change_seq``), so a
reader that sees a newer generation loads just the rows (and tombstones) changed since. Several
processes (a server, the CLI, replicas behind a load balancer) can share one database this way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from servers.memory_server.lexindex import PositionalBM25

INF = float("inf")


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class Doc:
    """One memory as the index sees it (everything a search result shows, plus filter fields)."""

    id: str
    text: str
    agent_id: str | None
    run_id: str | None
    kind: str
    categories: list[str]
    meta: dict[str, Any]
    slot: str | None
    slot_values: dict[str, str]
    source: str
    status: str
    content_hash: str
    tokens: list[str]
    observed_at: datetime
    created_at: datetime
    updated_at: datetime
    valid_to: datetime | None
    superseded_by: str | None
    vector_model: str | None
    observed_ts: float = 0.0
    created_ts: float = 0.0
    valid_to_ts: float = INF
    context_id: str | None = None  # the memory of the turn before, read by this one's vectors

    @classmethod
    def from_row(cls, row: Any) -> Doc:
        observed, created = aware(row["observed_at"]), aware(row["created_at"])
        valid_to = aware(row["valid_to"])
        return cls(
            id=row["id"],
            text=row["text"],
            agent_id=row["agent_id"],
            run_id=row["run_id"],
            kind=row["kind"],
            categories=list(row["categories"] or []),
            meta=dict(row["meta"] or {}),
            slot=row["slot"],
            slot_values=dict(row["slot_values"] or {}),
            source=row["source"],
            status=row["status"],
            content_hash=row["content_hash"],
            tokens=row["tokens"].split() if row["tokens"] else [],
            observed_at=observed,  # type: ignore[arg-type]
            created_at=created,  # type: ignore[arg-type]
            updated_at=aware(row["updated_at"]),  # type: ignore[arg-type]
            valid_to=valid_to,
            superseded_by=row["superseded_by"],
            vector_model=row["vector_model"],
            observed_ts=observed.timestamp(),  # type: ignore[union-attr]
            created_ts=created.timestamp(),  # type: ignore[union-attr]
            valid_to_ts=valid_to.timestamp() if valid_to else INF,
            context_id=row.get("context_id"),
        )


@dataclass(slots=True)
class ScopeIndex:
    """Lexical + dense index and attributes of one scope's memories (active and superseded)."""

    org_id: str
    customer_ref: str
    dim: int
    generation: int = -1
    docs: list[Doc | None] = field(default_factory=list)
    pos_of: dict[str, int] = field(default_factory=dict)
    by_hash: dict[str, set[str]] = field(default_factory=dict)
    by_slot: dict[str, set[str]] = field(default_factory=dict)
    lex: PositionalBM25 = field(default_factory=PositionalBM25)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    has_vec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    observed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    valid_to: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    agent_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    run_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    # a memory of several sentences also has one vector per sentence (passage.passage_texts):
    # rows of sentence_vectors, sentence_owner[row] = the memory's position (-1 once dropped)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    sentence_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sentence_rows: int = 0
    sentences_of: dict[int, tuple[int, int]] = field(default_factory=dict)  # position -> (first row, count)
    dead_sentences: int = 0
    codes: dict[str, int] = field(default_factory=dict)  # agent/run id -> small int (0 = none)
    lock: threading.RLock = field(default_factory=threading.RLock)
    dead: int = 0

    def __len__(self) -> int:
        return len(self.pos_of)

    @property
    def size(self) -> int:
        return len(self.docs)

    @property
    def rows_held(self) -> int:
        """Positions and sentence rows in use, dropped ones included (they hold memory until compaction)."""
        return self.size + self.sentence_rows

    def get(self, memory_id: str) -> Doc | None:
        pos = self.pos_of.get(memory_id)
        return self.docs[pos] if pos is not None else None

    def _grow(self, needed: int) -> None:
        cap = len(self.alive)
        if needed <= cap:
            return
        new_cap = max(needed, cap * 2, 64)
        vectors = np.zeros((new_cap, self.dim), dtype=np.float32)
        if cap:
            vectors[:cap] = self.vectors[:cap]
        self.vectors = vectors
        for name, dtype in (
            ("has_vec", bool),
            ("active", bool),
            ("alive", bool),
            ("observed", np.float64),
            ("valid_to", np.float64),
            ("agent_code", np.int32),
            ("run_code", np.int32),
        ):
            arr = np.zeros(new_cap, dtype=dtype)
            arr[:cap] = getattr(self, name)[:cap]
            setattr(self, name, arr)

    def code(self, value: str | None, create: bool = False) -> int:
        """The small integer standing for an agent or run id (0 for none, -1 when unknown)."""
        if value is None:
            return 0
        found = self.codes.get(value)
        if found is None:
            if not create:
                return -1
            found = self.codes[value] = len(self.codes) + 1
        return found

    def _set_attrs(self, pos: int, doc: Doc) -> None:
        self.active[pos] = doc.status == "active"
        self.observed[pos] = doc.observed_ts
        self.valid_to[pos] = doc.valid_to_ts
        self.agent_code[pos] = self.code(doc.agent_id, create=True)
        self.run_code[pos] = self.code(doc.run_id, create=True)

    def upsert(self, doc: Doc, vector: np.ndarray | None) -> None:
        """Add or replace a memory, and its vectors when given: one row (the whole passage) or rows
        (the whole passage, then one per sentence)."""
        old_pos = self.pos_of.get(doc.id)
        old = self.docs[old_pos] if old_pos is not None else None
        if (
            old is not None
            and old_pos is not None
            and old.tokens == doc.tokens
            and old.content_hash == doc.content_hash
        ):
            self._unlink(old)
            self.docs[old_pos] = doc
            self._link(doc)
            self._set_attrs(old_pos, doc)
            if vector is not None:
                self._set_vectors(old_pos, vector)
            elif doc.vector_model is None:
                self.has_vec[old_pos] = False
                self._drop_sentences(old_pos)
            return
        if old is not None:
            self.remove(doc.id)
        pos = len(self.docs)
        self._grow(pos + 1)
        self.docs.append(doc)
        self.pos_of[doc.id] = pos
        self.lex.add(pos, doc.tokens)
        self.alive[pos] = True
        self._set_attrs(pos, doc)
        if vector is not None:
            self._set_vectors(pos, vector)
        self._link(doc)

    def latest_message(self, run_id: str) -> str | None:
        """The id of the last verbatim message stored in ``run_id`` (the turn before the next one):
        the latest stored, and of one ``add`` call the last message given."""
        best: tuple[float, int] | None = None
        found = None
        for doc in self.docs:
            if doc is not None and doc.run_id == run_id and doc.source == "message":
                key = (doc.created_ts, int(doc.meta.get("message_index") or 0))
                if best is None or key > best:
                    best, found = key, doc.id
        return found

    def remove(self, memory_id: str) -> bool:
        """Drop a memory from every structure (text, tokens, vector)."""
        pos = self.pos_of.pop(memory_id, None)
        if pos is None:
            return False
        doc = self.docs[pos]
        if doc is not None:
            self._unlink(doc)
        self.docs[pos] = None
        self.lex.remove(pos)
        self.alive[pos] = False
        self.active[pos] = False
        self.has_vec[pos] = False
        self.vectors[pos] = 0.0
        self._drop_sentences(pos)
        self.dead += 1
        return True

    def _set_vectors(self, pos: int, vector: np.ndarray) -> None:
        rows = np.atleast_2d(vector)
        self.vectors[pos] = rows[0]
        self.has_vec[pos] = True
        self._drop_sentences(pos)
        if rows.shape[0] > 1:
            first, count = self.sentence_rows, rows.shape[0] - 1
            cap = self.sentence_vectors.shape[0]
            if first + count > cap:
                new_cap = max(first + count, cap * 2, 256)
                grown = np.zeros((new_cap, self.dim), dtype=np.float32)
                owner = np.full(new_cap, -1, dtype=np.int64)
                if first:
                    grown[:first] = self.sentence_vectors[:first]
                    owner[:first] = self.sentence_owner[:first]
                self.sentence_vectors, self.sentence_owner = grown, owner
            self.sentence_vectors[first : first + count] = rows[1:]
            self.sentence_owner[first : first + count] = pos
            self.sentence_rows += count
            self.sentences_of[pos] = (first, count)

    def _drop_sentences(self, pos: int) -> None:
        span = self.sentences_of.pop(pos, None)
        if span is not None:
            first, count = span
            self.sentence_vectors[first : first + count] = 0.0  # an erased text's vectors do not linger
            self.sentence_owner[first : first + count] = -1
            self.dead_sentences += count

    def vector_rows(self, pos: int) -> np.ndarray | None:
        """The memory's vectors as stored: the whole passage, then its sentences (None without)."""
        if not self.has_vec[pos]:
            return None
        span = self.sentences_of.get(pos)
        if span is None:
            return self.vectors[pos : pos + 1].copy()
        first, count = span
        return np.vstack([self.vectors[pos : pos + 1], self.sentence_vectors[first : first + count]])

    @property
    def has_sentences(self) -> bool:
        """Whether any live memory of the scope has sentence vectors."""
        return self.sentence_rows > self.dead_sentences

    def whole_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every position's whole passage to the query (0 without a vector)."""
        return self.vectors[: self.size] @ query_vector

    def rescore(self, positions: Sequence[int], whole: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
        """The dense score of ``positions``: the mean of the whole passage's similarity (``whole``,
        from :meth:`whole_scores`) and the best sentence's, or the whole similarity for a memory
        without sentence vectors. Reads only those memories' sentence rows."""
        out = whole[np.asarray(positions, dtype=np.int64)].astype(np.float32, copy=True)
        spans = [(i, *self.sentences_of[p]) for i, p in enumerate(positions) if p in self.sentences_of]
        if spans:
            rows = np.concatenate([np.arange(first, first + count) for _, first, count in spans])
            sims = self.sentence_vectors[rows] @ query_vector
            starts = np.cumsum([0] + [count for _, _, count in spans[:-1]])
            best = np.maximum.reduceat(sims, starts)
            which = np.asarray([i for i, _, _ in spans])
            out[which] = (out[which] + best) / 2
        return out

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """:meth:`rescore` of every position at once (positions without a vector score 0): the
        exact reference the search's candidate re-scoring is tested and measured against.

        A memory with sentence vectors scores the mean of its whole passage's similarity and its
        best sentence's: the fact said in passing counts without the rest of the turn being lost.
        """
        n = self.size
        sims = self.vectors[:n] @ query_vector
        used = self.sentence_rows
        if self.has_sentences:
            owner = self.sentence_owner[:used]
            live = owner >= 0
            best = np.full(n, -np.inf, dtype=sims.dtype)
            np.maximum.at(best, owner[live], (self.sentence_vectors[:used] @ query_vector)[live])
            has = np.isfinite(best)
            sims[has] = (sims[has] + best[has]) / 2
        return sims

    def _link(self, doc: Doc) -> None:
        self.by_hash.setdefault(doc.content_hash, set()).add(doc.id)
        if doc.slot:
            self.by_slot.setdefault(doc.slot, set()).add(doc.id)

    def _unlink(self, doc: Doc) -> None:
        ids = self.by_hash.get(doc.content_hash)
        if ids is not None:
            ids.discard(doc.id)
            if not ids:
                del self.by_hash[doc.content_hash]
        if doc.slot:
            ids = self.by_slot.get(doc.slot)
            if ids is not None:
                ids.discard(doc.id)
                if not ids:
                    del self.by_slot[doc.slot]

    def needs_compaction(self) -> bool:
        dead_rows = self.dead_sentences > 4096 and self.dead_sentences > self.sentence_rows - self.dead_sentences
        return (self.dead > 256 and self.dead > len(self.pos_of)) or dead_rows

    def compacted(self) -> ScopeIndex:
        """A fresh index with the same content and no dead positions."""
        fresh = ScopeIndex(self.org_id, self.customer_ref, self.dim, generation=self.generation)
        for pos, doc in enumerate(self.docs):
            if doc is not None:
                fresh.upsert(doc, self.vector_rows(pos))
        return fresh


class IndexCache:
    """Per-process LRU of scope indexes, bounded by the vectors they hold (:attr:`ScopeIndex.rows_held`:
    a memory of long turns holds a row per sentence as well as its own)."""

    def __init__(self, max_rows: int = 300_000) -> None:
        self.max_rows = max_rows
        self._items: OrderedDict[tuple[str, str], ScopeIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> ScopeIndex | None:
        with self._lock:
            index = self._items.get(key)
            if index is not None:
                self._items.move_to_end(key)
            return index

    def put(self, key: tuple[str, str], index: ScopeIndex) -> None:
        with self._lock:
            self._items[key] = index
            self._items.move_to_end(key)
            total = sum(i.rows_held for i in self._items.values())
            while total > self.max_rows and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                total -= evicted.rows_held

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
