"""The memory service: one object per process and database, composed of its parts by idea.

One :class:`MemoryService` per process and database (:func:`get_service`). It owns the per-scope
index cache and the background vector worker. Every write runs in one transaction that takes the
scope's write lock (SQLite ``BEGIN IMMEDIATE``; a row lock on ``memory_scope`` on PostgreSQL), so
concurrent adds for one customer are serialised and nothing is lost; decisions are made against
an index that is exactly current under that lock.

The parts: :mod:`.loading` (index cache), :mod:`.writes` (add, update), :mod:`.erase`,
:mod:`.reads` (get, list, search, counts).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from core.settings import get_settings
from servers.memory_server.erase import Erase
from servers.memory_server.generations import FUTURE_SKEW, _bump_generation, _generation, now
from servers.memory_server.index import IndexCache
from servers.memory_server.loading import IndexLoading
from servers.memory_server.memtokens import lexical_tokens, lexical_tokens_many
from servers.memory_server.passage import PASSAGE_FORMAT
from servers.memory_server.reads import Reads
from servers.memory_server.records import AddOutcome, Page, Removal
from servers.memory_server.writes import Writes

__all__ = [
    "FUTURE_SKEW",
    "AddOutcome",
    "MemoryService",
    "Page",
    "Removal",
    "_bump_generation",
    "_generation",
    "get_service",
    "lexical_tokens",
    "lexical_tokens_many",
    "now",
    "reset_services",
    "vectors_enabled",
]


def vectors_enabled() -> bool:
    """Dense vectors are on unless ``SWITCHBOARD_MEMORY_VECTORS=off``."""
    return os.environ.get("SWITCHBOARD_MEMORY_VECTORS", "on").strip().lower() not in {"0", "off", "false", "no"}


class MemoryService(IndexLoading, Writes, Erase, Reads):
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
        """The stored vectors' model id: the embedder's plus the passage format (see :mod:`.passage`)."""
        return f"{self.embedder.model_id}|{PASSAGE_FORMAT}" if self.vectors else "none"

    @property
    def dim(self) -> int:
        return int(self.embedder.dim) if self.vectors else 1

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock


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
