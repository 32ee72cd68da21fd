"""Dense vectors of KB chunks in Chroma, and the resumable background embedder.

Layout: one Chroma collection per (org, KB, embedding model); its record ids are the sha256 of
the embedded chunk text, so a text shared by several versions or documents of a KB is embedded
and stored once, and an updated document only embeds the passages that changed. A search queries
the collection *without* a ``where`` filter (filters cost 50-200 ms at 50k chunks) and keeps the
hits whose text hash belongs to the searched version (see :mod:`servers.kb_server.indexes`).
Inactive KBs are simply not queried; other tenants' vectors live in other collections.

Progress is recorded in ``kb_vector`` (KB, model, text hash) *after* Chroma has the vector, so a
crash at any point loses at most one batch of work: the next run re-embeds it and upserts
(idempotent). Only one embedder runs at a time per store (a file lock beside the Chroma data or
the SWITCHBOARD_HOME); the server runs one as an asyncio task, ``switchboard kb embed`` runs one
to completion.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.db import get_engine, is_sqlite, write_transaction
from core.settings import get_settings
from servers.kb_server import sentences
from servers.kb_server.models import kb_chunk, kb_document, kb_vector, kb_version_document, knowledge_base
from servers.kb_server.store import embed_head, now, with_head
from servers.retrieval.chroma import collection_name, get_client, vector_collection
from servers.retrieval.embedding import Embedder, get_embedder

log = logging.getLogger("switchboard.kb")
DEFAULT_BATCH = 8
READ_AHEAD = 8  # pending texts read per query: batch size × this


def kb_collection_name(org_id: str, kb_id: str, model_id: str) -> str:
    """The Chroma collection holding one KB's vectors for one model."""
    return collection_name("kb", org_id, kb_id, model_id)


def kb_collection(org_id: str, kb_id: str, embedder: Embedder, *, create: bool = True) -> Any | None:
    """The KB's collection (created on demand; ``create=False`` returns None when missing)."""
    name = kb_collection_name(org_id, kb_id, embedder.model_id)
    if not create:
        try:
            return get_client().get_collection(name=name)
        except Exception:
            return None
    return vector_collection(name, model_id=embedder.model_id, dim=embedder.dim, extra={"org_id": org_id})


@dataclass(slots=True)
class PendingText:
    org_id: str
    kb_id: str
    text_sha256: str
    head: str  # title · section, in front of the chunk and of each of its sentences
    body: str  # the chunk's own text

    @property
    def text(self) -> str:
        """What the whole chunk's vector is computed from."""
        return with_head(self.head, self.body)


async def pending(
    *, org_id: str | None = None, kb_id: str | None = None, model_id: str, limit: int = DEFAULT_BATCH
) -> list[PendingText]:
    """Chunk texts without a vector for ``model_id`` (a model, or a sentence marker, see
    :func:`servers.kb_server.sentences.marker`): current versions of active KBs first."""
    engine = await get_engine()
    joined = kb_chunk.join(kb_document, kb_document.c.id == kb_chunk.c.revision_id).outerjoin(
        kb_vector,
        and_(
            kb_vector.c.kb_id == kb_chunk.c.kb_id,
            kb_vector.c.model_id == model_id,
            kb_vector.c.text_sha256 == kb_chunk.c.text_sha256,
        ),
    )
    base = select(
        kb_chunk.c.org_id,
        kb_chunk.c.kb_id,
        kb_chunk.c.text_sha256,
        kb_chunk.c.text,
        kb_chunk.c.section,
        kb_document.c.title,
    ).where(kb_vector.c.text_sha256.is_(None))
    if org_id is not None:
        base = base.where(kb_chunk.c.org_id == org_id)
    if kb_id is not None:
        base = base.where(kb_chunk.c.kb_id == kb_id)
    current = base.select_from(
        joined.join(kb_version_document, kb_version_document.c.revision_id == kb_chunk.c.revision_id).join(
            knowledge_base,
            and_(
                knowledge_base.c.id == kb_version_document.c.kb_id,
                knowledge_base.c.current_version == kb_version_document.c.version,
                knowledge_base.c.is_active.is_(True),
            ),
        )
    )
    out: dict[tuple[str, str], PendingText] = {}
    async with engine.connect() as conn:
        for query in (current, base.select_from(joined)):
            rows = await conn.execute(query.order_by(kb_chunk.c.kb_id, kb_chunk.c.id).limit(limit * 4))
            for r in rows:
                key = (r.kb_id, r.text_sha256)
                if key not in out:
                    head = embed_head(r.title, r.section)
                    out[key] = PendingText(r.org_id, r.kb_id, r.text_sha256, head, r.text)
            if len(out) >= limit:
                break
    return list(out.values())[:limit]


def _upsert(org_id: str, kb_id: str, embedder: Embedder, ids: list[str], vectors: np.ndarray) -> None:
    collection = kb_collection(org_id, kb_id, embedder)
    collection.upsert(ids=ids, embeddings=vectors.tolist())


async def record_embedded(kb_id: str, org_id: str, model_id: str, shas: Sequence[str]) -> None:
    """Mark texts as embedded (idempotent)."""
    if not shas:
        return
    engine = await get_engine()
    dialect = sqlite if is_sqlite(engine) else postgresql
    stamp = now()
    rows = [
        {"kb_id": kb_id, "model_id": model_id, "text_sha256": sha, "org_id": org_id, "embedded_at": stamp}
        for sha in dict.fromkeys(shas)
    ]
    async with write_transaction(engine, immediate=True) as conn:
        for start in range(0, len(rows), 1000):
            stmt = dialect.insert(kb_vector).values(rows[start : start + 1000]).on_conflict_do_nothing()
            await conn.execute(stmt)


async def store_vectors(org_id: str, kb_id: str, embedder: Embedder, shas: Sequence[str], vectors: np.ndarray) -> None:
    """Put vectors in Chroma, then record them (the order that makes a crash harmless)."""
    for start in range(0, len(shas), 5000):
        part = list(shas[start : start + 5000])
        await asyncio.to_thread(_upsert, org_id, kb_id, embedder, part, vectors[start : start + 5000])
    await record_embedded(kb_id, org_id, embedder.model_id, shas)


class _RecentVectors:
    """Vectors this process computed lately, by (model, embedded text): the same text uploaded to
    several KBs or orgs (a template KB, a re-upload after a delete) is embedded once. Bounded LRU."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        keys = [(embedder.model_id, hashlib.sha256(t.encode("utf-8")).hexdigest()) for t in texts]
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for k in found:
                self._items.move_to_end(k)
        missing = [n for n, k in enumerate(keys) if k not in found]
        fresh = embedder.embed_passages([texts[n] for n in missing]) if missing else None
        with self._lock:
            for row, n in enumerate(missing):
                found[keys[n]] = self._items[keys[n]] = fresh[row]  # type: ignore[index]
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return np.stack([found[k] for k in keys])

    def holds(self, embedder: Embedder, texts: Sequence[str]) -> bool:
        """True when every vector of ``texts`` is here (an embed of them costs no model work)."""
        keys = [(embedder.model_id, hashlib.sha256(t.encode("utf-8")).hexdigest()) for t in texts]
        with self._lock:
            return all(k in self._items for k in keys)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


recent_vectors = _RecentVectors()


def _by_kb(items: Sequence[PendingText]) -> dict[tuple[str, str], list[int]]:
    """The positions of ``items`` per (org, KB): each KB's vectors go to its own collection."""
    groups: dict[tuple[str, str], list[int]] = {}
    for n, item in enumerate(items):
        groups.setdefault((item.org_id, item.kb_id), []).append(n)
    return groups


async def embed_batch(items: Sequence[PendingText], embedder: Embedder) -> int:
    """Embed and store one batch; returns how many texts were embedded."""
    if not items:
        return 0
    vectors = await asyncio.to_thread(recent_vectors.embed, embedder, [i.text for i in items])
    for (org_id, kb_id), idx in _by_kb(items).items():
        await store_vectors(org_id, kb_id, embedder, [items[i].text_sha256 for i in idx], vectors[idx])
    return len(items)


def _upsert_sentences(
    org_id: str, kb_id: str, embedder: Embedder, shas: Sequence[str], rows: Sequence[np.ndarray]
) -> None:
    collection = sentences.collection_of(org_id, kb_id, embedder.model_id, embedder.dim)
    ids: list[str] = []
    metadatas: list[dict[str, str]] = []
    for sha, block in zip(shas, rows, strict=True):
        ids.extend(sentences.record_ids(sha, len(block)))
        metadatas.extend({"sha": sha} for _ in range(len(block)))
    if not ids:
        return  # texts of one sentence: the (empty) collection still exists for search and export
    vectors = np.concatenate(rows)
    for start in range(0, len(ids), 5000):  # under Chroma's largest batch
        end = start + 5000
        collection.upsert(ids=ids[start:end], embeddings=vectors[start:end].tolist(), metadatas=metadatas[start:end])


async def embed_sentence_batch(items: Sequence[PendingText], embedder: Embedder) -> int:
    """Embed and store the sentence vectors of one batch of texts; returns how many texts."""
    if not items:
        return 0
    texts = [sentences.sentence_texts(i.head, i.body) for i in items]
    flat = [t for group in texts for t in group]
    vectors = (
        await asyncio.to_thread(recent_vectors.embed, embedder, flat)
        if flat
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    blocks = np.split(vectors, np.cumsum([len(group) for group in texts])[:-1])
    for (org_id, kb_id), idx in _by_kb(items).items():
        shas = [items[i].text_sha256 for i in idx]
        await store_sentence_vectors(org_id, kb_id, embedder, shas, [blocks[i] for i in idx])
    return len(items)


async def store_sentence_vectors(
    org_id: str, kb_id: str, embedder: Embedder, shas: Sequence[str], rows: Sequence[np.ndarray]
) -> None:
    """Put each text's sentence vectors (``rows[i]`` for ``shas[i]``, possibly none) in Chroma,
    then record the texts as done (the order that makes a crash harmless)."""
    await asyncio.to_thread(_upsert_sentences, org_id, kb_id, embedder, shas, rows)
    await record_embedded(kb_id, org_id, sentences.marker(embedder.model_id), shas)


def markers(model_id: str) -> tuple[str, ...]:
    """The ``kb_vector`` model ids a text needs to be fully embedded: its whole vector's, and its
    sentence vectors' unless they are switched off."""
    return (model_id, sentences.marker(model_id)) if sentences.enabled() else (model_id,)


@contextlib.contextmanager
def embed_lock(*, blocking: bool) -> Iterator[bool]:
    """The store-wide embedder lock; yields False when another process holds it (non-blocking)."""
    settings = get_settings()
    settings.ensure_home()
    path = settings.home / ("kb-embed.lock" if not settings.chroma_url else "kb-embed-remote.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def embed_all(
    *,
    org_id: str | None = None,
    kb_id: str | None = None,
    embedder: Embedder | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed every pending chunk text (or ``limit`` of them); returns the number of texts done.

    Two passes: every text's whole vector first (a version is searched by meaning as soon as they
    are all there), then every text's sentence vectors (:mod:`servers.kb_server.sentences`)."""
    embedder = embedder or get_embedder()
    batch_size = batch_size or int(os.environ.get("SWITCHBOARD_KB_EMBED_BATCH", DEFAULT_BATCH))
    done = 0
    passes = ((embed_batch, _whole_texts), (embed_sentence_batch, _sentence_texts))
    for model_id, (step, texts_of) in zip(markers(embedder.model_id), passes, strict=False):
        while limit is None or done < limit:
            want = batch_size * READ_AHEAD if limit is None else min(batch_size * READ_AHEAD, limit - done)
            items = await pending(org_id=org_id, kb_id=kb_id, model_id=model_id, limit=want)
            if not items:
                break
            for batch in _batches(items, embedder, batch_size, texts_of):
                done += await step(batch, embedder)
                if progress:
                    progress(len(batch))
    return done


def _whole_texts(item: PendingText) -> list[str]:
    return [item.text]


def _sentence_texts(item: PendingText) -> list[str]:
    return sentences.sentence_texts(item.head, item.body)


def _batches(
    items: list[PendingText], embedder: Embedder, size: int, texts_of: Callable[[PendingText], list[str]]
) -> Iterator[list[PendingText]]:
    """``items`` in the batches one embedder step takes: every text whose vectors this process
    already holds (:data:`recent_vectors`) in one batch, as storing is all that is left to do for
    them; the rest ``size`` at a time, so a crash loses at most ``size`` texts of model work."""
    held = [recent_vectors.holds(embedder, texts_of(i)) for i in items]
    cached = [i for i, h in zip(items, held, strict=True) if h]
    if cached:
        yield cached
    rest = [i for i, h in zip(items, held, strict=True) if not h]
    for start in range(0, len(rest), size):
        yield rest[start : start + size]


async def progress_counts(
    org_id: str, kb_id: str, version: int, model_id: str, *, only: str | None = None
) -> tuple[int, int]:
    """(texts fully embedded, distinct texts) in one KB version: a text counts once it has every
    vector of :func:`markers` (``only``: the one marker given, e.g. for search's checks)."""
    if version <= 0:
        return 0, 0
    engine = await get_engine()
    texts = (
        select(kb_chunk.c.text_sha256)
        .join(kb_version_document, kb_version_document.c.revision_id == kb_chunk.c.revision_id)
        .where(
            kb_version_document.c.kb_id == kb_id,
            kb_version_document.c.version == version,
            kb_chunk.c.org_id == org_id,
        )
        .distinct()
        .subquery()
    )
    total_q = select(func.count()).select_from(texts)
    joined = texts
    for n, name in enumerate((only,) if only else markers(model_id)):
        done_marker = kb_vector.alias(f"done_{n}")
        joined = joined.join(
            done_marker,
            and_(
                done_marker.c.text_sha256 == texts.c.text_sha256,
                done_marker.c.kb_id == kb_id,
                done_marker.c.model_id == name,
            ),
        )
    done_q = select(func.count()).select_from(joined)
    async with engine.connect() as conn:
        total = (await conn.execute(total_q)).scalar_one()
        done = (await conn.execute(done_q)).scalar_one()
    return int(done), int(total)


async def pending_total(*, org_id: str | None = None, kb_id: str | None = None, model_id: str) -> int:
    """How many (KB, text, kind of vector) still need embedding: whole vectors and, unless switched
    off, sentence vectors (each text counts once per kind)."""
    total = 0
    for name in markers(model_id):
        total += await _pending_of(org_id=org_id, kb_id=kb_id, model_id=name)
    return total


async def _pending_of(*, org_id: str | None, kb_id: str | None, model_id: str) -> int:
    engine = await get_engine()
    texts = select(kb_chunk.c.kb_id, kb_chunk.c.text_sha256).distinct()
    if org_id is not None:
        texts = texts.where(kb_chunk.c.org_id == org_id)
    if kb_id is not None:
        texts = texts.where(kb_chunk.c.kb_id == kb_id)
    sub = texts.subquery()
    query = (
        select(func.count())
        .select_from(
            sub.outerjoin(
                kb_vector,
                and_(
                    kb_vector.c.kb_id == sub.c.kb_id,
                    kb_vector.c.text_sha256 == sub.c.text_sha256,
                    kb_vector.c.model_id == model_id,
                ),
            )
        )
        .where(kb_vector.c.text_sha256.is_(None))
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


class BackgroundEmbedder:
    """An asyncio task that keeps embedding pending chunks while the server runs.

    It polls every ``interval`` seconds (``SWITCHBOARD_KB_EMBED_INTERVAL``, default 5; uploads
    usually come from another process, the CLI), takes the store-wide lock without blocking (so a
    running ``kb embed`` wins), and never lets an error stop the server: failures are logged and
    retried at the next poll.
    """

    def __init__(self, org_id: str | None = None, interval: float | None = None) -> None:
        self.org_id = org_id
        if interval is None:
            interval = float(os.environ.get("SWITCHBOARD_KB_EMBED_INTERVAL", 5.0))
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kb-background-embedder")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                with embed_lock(blocking=False) as acquired:
                    if acquired:
                        await embed_all(org_id=self.org_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("background embedding failed (%s); retrying later", type(exc).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
