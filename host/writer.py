"""Group commit for conversation records: concurrent writes share one short transaction.

Every write is a small synchronous function of a SQLAlchemy ``Connection``. Writes queued while
a batch commits go into the next batch; its caller is answered only after COMMIT. A batch first
runs as plain statements in one transaction; if any write fails, the transaction is rolled back
and the batch runs again with each write in its own savepoint, so a failing write fails alone.

On SQLite a batch runs on a plain ``sqlite3`` connection (``BEGIN IMMEDIATE``), so the
database's write lock is held for the milliseconds the SQL takes, never across event-loop turns.
When the lock is free the batch runs inline on the event loop (a worker-thread handoff costs more
than the write under GIL contention); when another connection holds it, the writer retries after
short pauses (as the audit appender does), then moves the batch to a worker thread that waits for
it (busy timeout), so the loop never waits on a lock. The
connection stays open between batches (opening one costs more than a small batch) until
:meth:`GroupCommit.aclose`, a failure or a new event loop. On PostgreSQL the batch runs through
the async engine (``run_sync``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from core.db import install_sqlite_pragmas, is_sqlite
from core.settings import get_settings
from core.sqlite_lock import is_busy, when_unlocked

T = TypeVar("T")
SyncOp = Callable[[Connection], Any]
Outcomes = list[tuple[Any, Exception | None]]
MAX_BATCH = 256


def _apply_each(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    """Each op in its own savepoint: a failing op is rolled back alone."""
    outcomes: Outcomes = []
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


def _apply_all(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    """Every op as plain statements; the first failure raises (the caller rolls back)."""
    return [(op(conn), None) for op in ops]


class _BatchFailed(Exception):
    """One op of an optimistic batch failed: roll back and run the batch op by op."""


def _apply_optimistic(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    try:
        return _apply_all(conn, ops)
    except Exception as exc:
        raise _BatchFailed from exc


def sqlite_sync_engine(async_engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file, with the pragmas core.db uses."""
    path = async_engine.url.database or ""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"check_same_thread": False})
    install_sqlite_pragmas(engine, 0, begin="IMMEDIATE")  # inline writes never wait; see _commit_waiting
    return engine


def _commit_sync(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    """One transaction for ``ops``: all at once, or (after a failure) each in a savepoint."""
    try:
        with conn.begin():
            return _apply_optimistic(conn, ops)
    except _BatchFailed:
        pass  # rolled back: nothing of the batch was written
    with conn.begin():
        return _apply_each(conn, ops)


class _Busy(Exception):
    """Another connection holds SQLite's write lock (nothing was written)."""


def _commit_inline(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    """:func:`_commit_sync` without waiting: raises :class:`_Busy` when the lock is held."""
    try:
        return _commit_sync(conn, ops)
    except Exception as exc:
        if is_busy(exc) and not conn.in_transaction():
            raise _Busy from exc
        raise


def _commit_waiting(conn: Connection, ops: list[SyncOp]) -> Outcomes:
    """:func:`_commit_sync` waiting up to the busy timeout for the lock (in a worker thread)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={int(get_settings().sqlite_busy_timeout_ms)}")
    try:
        return _commit_sync(conn, ops)
    finally:
        raw.execute("PRAGMA busy_timeout=0")


async def _commit_async(engine: AsyncEngine, ops: list[SyncOp]) -> Outcomes:
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(_apply_optimistic, ops)
    except _BatchFailed:
        pass
    async with engine.begin() as conn:
        return await conn.run_sync(_apply_each, ops)


class GroupCommit:
    """One writer per store and event loop; callers await their own write's commit."""

    def __init__(self, engine_factory: Callable[[], Awaitable[AsyncEngine]]) -> None:
        self._engine_factory = engine_factory
        self._queue: list[tuple[SyncOp, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync: tuple[AsyncEngine, Engine] | None = None
        self._conn: Connection | None = None  # SQLite: kept open between batches

    def submit(self, op: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Queue ``op`` now; the future resolves with its value once its transaction committed.

        Writes are applied in the order they were submitted.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a test, a CLI command): start over
            self._loop, self._queue, self._task = loop, [], None
            self._drop_connection()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return future

    async def run(self, op: Callable[[Connection], T]) -> T:
        """Queue ``op``; returns its value once the transaction holding it has committed."""
        return await self.submit(op)

    async def _drain(self) -> None:
        engine = await self._engine_factory()
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                ops = [op for op, _ in batch]
                try:
                    if is_sqlite(engine):
                        if self._conn is None:
                            self._conn = await asyncio.to_thread(self._sync_engine(engine).connect)
                        outcomes = await self._commit_sqlite(self._conn, ops)
                    else:
                        outcomes = await _commit_async(engine, ops)
                except Exception as exc:
                    _settle(batch, [(None, exc)] * len(batch))
                    if self._conn is not None:
                        conn, self._conn = self._conn, None
                        await asyncio.to_thread(conn.close)
                    continue
                _settle(batch, outcomes)
            # the queue was empty with no await since the check: nothing is left behind
        except BaseException as exc:
            pending, self._queue = self._queue, []
            _settle(pending, [(None, RuntimeError(f"the record writer stopped: {exc!r}"))] * len(pending))
            raise

    @staticmethod
    async def _commit_sqlite(conn: Connection, ops: list[SyncOp]) -> Outcomes:
        """Inline while the lock is free; short pauses while it is held; then a waiting thread."""
        return await when_unlocked(
            lambda: _commit_inline(conn, ops),
            lambda: asyncio.to_thread(_commit_waiting, conn, ops),
            busy=lambda exc: isinstance(exc, _Busy),
        )

    def _sync_engine(self, engine: AsyncEngine) -> Engine:
        if self._sync is None or self._sync[0] is not engine:
            self._drop_connection()
            self._sync = (engine, sqlite_sync_engine(engine))
        return self._sync[1]

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a finished loop's connection: nothing left to do
                conn.close()

    async def aclose(self) -> None:
        """Finish queued writes and close the connection."""
        task = self._task
        if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
            await asyncio.wait({task})
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(conn.close)


def _settle(batch: list[tuple[SyncOp, asyncio.Future[Any]]], outcomes: Outcomes) -> None:
    for (_, future), (value, error) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
