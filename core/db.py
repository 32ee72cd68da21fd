"""The async database engine: SQLite (aiosqlite, WAL) by default, PostgreSQL (asyncpg) when set.

Every package defines its tables on :data:`metadata` and ships Alembic migrations in its own
``migrations`` folder; :func:`get_engine` applies all of them on first use.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, MetaData, RowMapping, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

from core.settings import get_settings

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_engines: dict[str, AsyncEngine] = {}
_sync_readers: dict[str, Engine] = {}
_migrated: set[str] = set()
# one lock per event loop: an asyncio.Lock binds to the loop of its first contended use, and a
# process may run several loops (asyncio.run per CLI command, per test): a lock bound to an earlier
# loop made every *waiting* first caller fail with "bound to a different event loop"
_migrate_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def install_sqlite_pragmas(
    engine: AsyncEngine | Engine, busy_timeout_ms: int, *, extra: tuple[str, ...] = (), begin: str = "DEFERRED"
) -> None:
    """WAL, foreign keys, busy timeout and BEGIN control (for BEGIN IMMEDIATE) on every connection.

    Works for async (aiosqlite) and sync (pysqlite) engines. ``extra`` adds pragmas, e.g.
    ``("secure_delete=ON",)`` for stores that must erase for real. Transactions open with
    ``BEGIN <begin>`` unless a connection's ``sqlite_begin`` execution option says otherwise.
    """
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(target, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # aiosqlite: let SQLAlchemy issue BEGIN itself so BEGIN IMMEDIATE works.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        for pragma in extra:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(target, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", begin)
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine_for(url: str) -> AsyncEngine:
    """A new engine for ``url`` with the pragmas and pool settings Switchboard expects."""
    settings = get_settings()
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, poolclass=NullPool)
        install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=40, pool_pre_ping=True)


async def get_engine(url: str | None = None, *, migrate: bool = True) -> AsyncEngine:
    """The shared engine for ``url`` (default: the configured database), migrated on first use."""
    url = url or get_settings().resolved_database_url
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_engine_for(url)
    if migrate and url not in _migrated:
        lock = _migrate_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            if url not in _migrated:
                from core.migrate import upgrade_if_needed

                await upgrade_if_needed(engine)
                _migrated.add(url)
    return engine


async def get_pooled_engine(
    *,
    pool_size: int = 4,
    max_overflow: int = 8,
    extra_pragmas: tuple[str, ...] = (),
    reset_on_return: bool = True,
) -> AsyncEngine:
    """An engine that keeps its SQLite connections open, for latency-critical paths (search).

    The shared SQLite engine opens a new connection per use (NullPool: nothing outlives the event
    loop that made it), which costs ~5-7 ms on a busy box. This one pools them on the same file
    with the same pragmas (plus ``extra_pragmas``); :func:`dispose_engines` closes it. With
    ``reset_on_return=False`` the pool skips its rollback on check-in: only for callers whose
    every use ends its own transaction. On PostgreSQL it is the shared (already pooled) engine.
    """
    shared = await get_engine()
    if not is_sqlite(shared):
        return shared
    url = get_settings().resolved_database_url
    key = f"{url}#pool={pool_size}+{max_overflow};{','.join(extra_pragmas)};reset={reset_on_return}"
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_reset_on_return="rollback" if reset_on_return else None,
        )
        install_sqlite_pragmas(engine, get_settings().sqlite_busy_timeout_ms, extra=extra_pragmas)
    return engine


def _sync_reader(url: str) -> Engine:
    """A pooled synchronous (pysqlite) engine on the SQLite file of ``url``, for :func:`read_rows`."""
    engine = _sync_readers.get(url)
    if engine is None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import QueuePool

        sync_url = url.replace("sqlite+aiosqlite:", "sqlite:", 1)
        engine = create_engine(
            sync_url, poolclass=QueuePool, pool_size=4, max_overflow=8, connect_args={"check_same_thread": False}
        )
        install_sqlite_pragmas(engine, get_settings().sqlite_busy_timeout_ms, extra=("query_only=ON",))
        _sync_readers[url] = engine
    return engine


async def read_rows(query: Any) -> list[RowMapping]:
    """The rows of a read-only ``query``, for latency-critical paths (search).

    On SQLite the query runs on a pooled synchronous connection in a worker thread: one thread
    hop, ~0.1 ms, where aiosqlite needs ~1 ms (a hop each for BEGIN, the query and the rollback).
    Those connections are read-only (``query_only``). On PostgreSQL it runs on the shared engine.
    """
    engine = await get_engine()
    if not is_sqlite(engine):
        async with engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())
    reader = _sync_reader(str(engine.url))

    def run() -> list[RowMapping]:
        with reader.connect() as conn:
            return list(conn.execute(query).mappings().all())

    return await asyncio.to_thread(run)


async def dispose_engines() -> None:
    """Close every pooled connection (end of a CLI command, a test, a server run)."""
    engines = list(_engines.values())
    _engines.clear()
    for reader in _sync_readers.values():
        reader.dispose()
    _sync_readers.clear()
    _migrated.clear()
    for engine in engines:
        await engine.dispose()


@asynccontextmanager
async def write_transaction(engine: AsyncEngine, *, immediate: bool = False) -> AsyncIterator[AsyncConnection]:
    """A transaction; ``immediate`` takes SQLite's write lock up front (BEGIN IMMEDIATE)."""
    conn = await engine.connect()
    try:
        if is_sqlite(engine) and immediate:
            conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            yield conn
    finally:
        await conn.close()


async def checkpoint_wal(engine: AsyncEngine, attempts: int = 5) -> bool:
    """Fold the SQLite WAL into the database file and truncate it; True when complete.

    Old page images (which may hold erased text) live in the WAL until a checkpoint. A reader in
    another process can delay it: retried a few times, the outcome reported. True on PostgreSQL.
    """
    if not is_sqlite(engine):
        return True
    for attempt in range(attempts):
        async with engine.connect() as conn:
            row = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
            await conn.rollback()
        if row is not None and int(row[0]) == 0:
            return True
        await asyncio.sleep(0.05 * (attempt + 1))
    return False
