"""The memory server's database engine.

On PostgreSQL this is the shared engine from :mod:`core.db`. On SQLite the shared engine opens a
new connection per use (NullPool, ~5-7 ms each on a busy box), too slow for a 15 ms search, so
the memory server keeps a small pool of its own on the same file, with the same pragmas plus
``secure_delete=ON``: deleted or overwritten memory text is zeroed in the file, not just unlinked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import checkpoint_wal, dispose_engines, get_pooled_engine, is_sqlite
from core.settings import get_settings

_ERASE_PRAGMAS = ("secure_delete=ON",)  # erased memory text is zeroed in the file, not just unlinked
_readers: dict[str, GenerationReader] = {}


class GenerationReader:
    """Reads one scope's generation counter straight from the SQLite file, synchronously.

    A search checks this counter on every call to know whether its index is current. Through
    aiosqlite that is three thread hops (BEGIN, SELECT, ROLLBACK: 2-4 ms on a busy box); a plain
    sqlite3 connection in autocommit mode answers the primary-key lookup in tens of microseconds,
    and never holds a read snapshot between calls (so WAL checkpoints are not held up).
    """

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        import sqlite3
        import threading

        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._lock = threading.Lock()

    def generation(self, key: tuple[str, str]) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT generation FROM memory_scope WHERE org_id = ? AND customer_ref = ?", key
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def generation_reader() -> GenerationReader | None:
    """The process's fast generation reader for the configured SQLite database (None on PostgreSQL)."""
    url = get_settings().resolved_database_url
    if not is_sqlite(url):
        return None
    reader = _readers.get(url)
    if reader is None:
        path = url.split("///", 1)[-1]
        reader = _readers[url] = GenerationReader(path, get_settings().sqlite_busy_timeout_ms)
    return reader


async def memory_engine() -> AsyncEngine:
    """The engine memory code uses for the configured database (migrations applied)."""
    return await get_pooled_engine(pool_size=4, max_overflow=8, extra_pragmas=_ERASE_PRAGMAS)


async def memory_write_engine() -> AsyncEngine:
    """The engine for write transactions: like :func:`memory_engine`, without the pool's reset.

    Every use of it ends its transaction (``writing`` commits or rolls back), so the rollback
    the pool would issue when a connection comes back is a wasted thread hop per write.
    """
    return await get_pooled_engine(pool_size=2, max_overflow=8, extra_pragmas=_ERASE_PRAGMAS, reset_on_return=False)


async def dispose_memory_engines() -> None:
    """Close the pooled connections and the generation readers (end of a CLI command, a test, a run)."""
    for reader in _readers.values():
        reader.close()
    _readers.clear()
    await dispose_engines()


@asynccontextmanager
async def writing() -> AsyncIterator[AsyncConnection]:
    """A write transaction on the configured database; on SQLite it takes the write lock up front
    (BEGIN IMMEDIATE), so read-then-write decisions inside it cannot race another writer."""
    engine = await memory_write_engine()
    async with engine.connect() as conn:
        if is_sqlite(engine):
            conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            yield conn


async def checkpoint(engine: AsyncEngine, attempts: int = 5) -> bool:
    """Fold the SQLite WAL into the database file and truncate it; True when complete (core.db)."""
    return await checkpoint_wal(engine, attempts)
