"""Group commit for conversation records: concurrent writes share one short transaction.

Every write is a small synchronous function of a SQLAlchemy ``Connection``. Writes queued while
a batch commits go into the next batch; each runs in its own savepoint (a failing write fails
alone) and its caller is answered only after COMMIT. On SQLite the whole batch runs in one
worker-thread call on a plain ``sqlite3`` connection (``BEGIN IMMEDIATE``), so the database's
write lock is held for the milliseconds the SQL takes, never across event-loop turns; on
PostgreSQL the batch runs through the async engine (``run_sync``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from core.db import is_sqlite
from core.settings import get_settings

T = TypeVar("T")
SyncOp = Callable[[Connection], Any]
MAX_BATCH = 256


def _apply(conn: Connection, ops: list[SyncOp]) -> list[tuple[Any, Exception | None]]:
    outcomes: list[tuple[Any, Exception | None]] = []
    for op in ops:
        savepoint = conn.begin_nested()
        try:
            value = op(conn)
        except Exception as exc:
            savepoint.rollback()
            outcomes.append((None, exc))
        else:
            savepoint.commit()
            outcomes.append((value, None))
    return outcomes


def sqlite_sync_engine(async_engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file, with the pragmas core.db uses."""
    path = async_engine.url.database or ""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"check_same_thread": False})
    busy_ms = get_settings().sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class GroupCommit:
    """One writer per store and event loop; callers await their own write's commit."""

    def __init__(self, engine_factory: Callable[[], Awaitable[AsyncEngine]]) -> None:
        self._engine_factory = engine_factory
        self._queue: list[tuple[SyncOp, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync: tuple[AsyncEngine, Engine] | None = None

    async def run(self, op: Callable[[Connection], T]) -> T:
        """Queue ``op``; returns its value once the transaction holding it has committed."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a test, a CLI command): start over
            self._loop, self._queue, self._task = loop, [], None
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        engine = await self._engine_factory()
        sqlite_conn: Connection | None = None
        try:
            while True:
                while self._queue:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    try:
                        if is_sqlite(engine):
                            if sqlite_conn is None:
                                sqlite_conn = await asyncio.to_thread(self._sync_engine(engine).connect)
                            outcomes = await asyncio.to_thread(_commit_sync, sqlite_conn, [op for op, _ in batch])
                        else:
                            async with engine.begin() as conn:
                                outcomes = await conn.run_sync(_apply, [op for op, _ in batch])
                    except Exception as exc:
                        _settle(batch, [(None, exc)] * len(batch))
                        if sqlite_conn is not None:
                            await asyncio.to_thread(sqlite_conn.close)
                            sqlite_conn = None
                        continue
                    _settle(batch, outcomes)
                if sqlite_conn is not None:  # idle: let the connection go (writes queued meanwhile loop again)
                    await asyncio.to_thread(sqlite_conn.close)
                    sqlite_conn = None
                    continue
                return  # the queue was empty with no await since the check: nothing is left behind
        except BaseException as exc:
            pending, self._queue = self._queue, []
            _settle(pending, [(None, RuntimeError(f"the record writer stopped: {exc!r}"))] * len(pending))
            raise

    def _sync_engine(self, engine: AsyncEngine) -> Engine:
        if self._sync is None or self._sync[0] is not engine:
            self._sync = (engine, sqlite_sync_engine(engine))
        return self._sync[1]


def _settle(batch: list[tuple[SyncOp, asyncio.Future[Any]]], outcomes: list[tuple[Any, Exception | None]]) -> None:
    for (_, future), (value, error) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _commit_sync(conn: Connection, ops: list[SyncOp]) -> list[tuple[Any, Exception | None]]:
    with conn.begin():
        return _apply(conn, ops)
