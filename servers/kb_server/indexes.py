"""The lexical index of one KB version, cached in memory and on disk, rebuilt from chunk rows.

A version is immutable, so its index is too: it is built once (from the ``tokens`` stored with
each chunk, so no re-analysis), saved under ``SWITCHBOARD_HOME/kb-index/<kb_id>/v<version>/`` and
kept in a small in-process LRU. With PostgreSQL and several server processes each process builds
or loads its own copy; a missing or damaged directory is simply rebuilt. The index also maps each
chunk's embedded-text hash to its chunk ids, which is how dense hits (Chroma ids are text hashes)
are restricted to exactly this version without any Chroma ``where`` filter.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from core.db import get_engine
from core.settings import get_settings
from servers.kb_server.models import kb_chunk, kb_version_document
from servers.retrieval.lexical import StaticBM25

CACHE_SIZE = 32
FORMAT = 1


@dataclass(slots=True)
class VersionIndex:
    """BM25 over a KB version's chunks plus the text-hash → chunk ids map for dense hits."""

    org_id: str
    kb_id: str
    version: int
    bm25: StaticBM25
    sha_to_chunks: dict[str, list[str]]
    chunk_to_sha: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.chunk_to_sha:
            self.chunk_to_sha = {c: sha for sha, chunks in self.sha_to_chunks.items() for c in chunks}

    @property
    def n_chunks(self) -> int:
        return len(self.bm25)

    def vocabulary_share(self, tokens: list[str]) -> float:
        """The share of ``tokens`` that occur anywhere in this version (0.0 for no tokens)."""
        return self.bm25.vocabulary_share(tokens)


def index_dir(kb_id: str, version: int) -> Path:
    return get_settings().home / "kb-index" / kb_id / f"v{version}"


async def _rows(org_id: str, kb_id: str, version: int) -> list[tuple[str, str, str]]:
    engine = await get_engine()
    query = (
        select(kb_chunk.c.id, kb_chunk.c.tokens, kb_chunk.c.text_sha256)
        .join(kb_version_document, kb_version_document.c.revision_id == kb_chunk.c.revision_id)
        .where(
            kb_version_document.c.kb_id == kb_id,
            kb_version_document.c.version == version,
            kb_chunk.c.org_id == org_id,
        )
        .order_by(kb_chunk.c.id)
    )
    async with engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in await conn.execute(query)]


def _build(org_id: str, kb_id: str, version: int, rows: list[tuple[str, str, str]]) -> VersionIndex:
    ids = [r[0] for r in rows]
    bm25 = StaticBM25.build(ids, [r[1].split() for r in rows])
    shas: dict[str, list[str]] = {}
    for chunk_id, _tokens, sha in rows:
        shas.setdefault(sha, []).append(chunk_id)
    return VersionIndex(org_id, kb_id, version, bm25, shas)


def _save(index: VersionIndex) -> None:
    target = index_dir(index.kb_id, index.version)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        index.bm25.save(tmp / "bm25")
        meta = {"format": FORMAT, "org_id": index.org_id, "kb_id": index.kb_id, "version": index.version}
        (tmp / "shas.json").write_text(json.dumps(index.sha_to_chunks), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if target.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a read-only or full disk only costs a rebuild later


def _load(org_id: str, kb_id: str, version: int) -> VersionIndex | None:
    target = index_dir(kb_id, version)
    try:
        meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
        if meta != {"format": FORMAT, "org_id": org_id, "kb_id": kb_id, "version": version}:
            return None
        shas = json.loads((target / "shas.json").read_text(encoding="utf-8"))
        bm25 = StaticBM25.load(target / "bm25")
    except (OSError, ValueError, KeyError):
        shutil.rmtree(target, ignore_errors=True)
        return None
    return VersionIndex(org_id, kb_id, version, bm25, shas)


class IndexCache:
    """Process-wide LRU of version indexes; concurrent requests for one version build it once."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], VersionIndex] = OrderedDict()
        self._locks: dict[tuple[int, str, str, int], asyncio.Lock] = {}
        self._mutex = threading.Lock()

    def clear(self) -> None:
        with self._mutex:
            self._items.clear()
            self._locks.clear()

    def _get(self, key: tuple[str, str, int]) -> VersionIndex | None:
        with self._mutex:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def _put(self, key: tuple[str, str, int], index: VersionIndex) -> None:
        with self._mutex:
            self._items[key] = index
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    async def get(self, org_id: str, kb_id: str, version: int) -> VersionIndex:
        """The index of ``version`` of ``kb_id`` (memory, then disk, then built from the database)."""
        key = (org_id, kb_id, version)
        found = self._get(key)
        if found is not None:
            return found
        with self._mutex:  # asyncio locks belong to one event loop
            lock = self._locks.setdefault((id(asyncio.get_running_loop()), *key), asyncio.Lock())
        async with lock:
            found = self._get(key)
            if found is not None:
                return found
            index = await asyncio.to_thread(_load, org_id, kb_id, version)
            if index is None:
                rows = await _rows(org_id, kb_id, version)
                index = await asyncio.to_thread(_build, org_id, kb_id, version, rows)
                await asyncio.to_thread(_save, index)
            self._put(key, index)
            return index


_cache = IndexCache()


def index_cache() -> IndexCache:
    return _cache


async def version_index(org_id: str, kb_id: str, version: int) -> VersionIndex:
    """The process-wide cached index of a KB version."""
    return await _cache.get(org_id, kb_id, version)
