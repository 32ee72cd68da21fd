"""Group commit: concurrent appends share one chain-locked transaction, acknowledged after commit.

Each event loop gets one :class:`Appender` per database. Callers queue prepared events; a single
writer task takes everything queued, writes it in one transaction and resolves every caller's
future with its record only after COMMIT. While one batch commits, the next one gathers.

Serialisation per org, across tasks, threads and processes:

- SQLite: ``BEGIN IMMEDIATE`` (the database write lock) before the chain heads are read, on a
  stdlib ``sqlite3`` connection of the appender's own, in WAL mode. ``synchronous=NORMAL`` by
  default: a committed append survives kill -9 of any process (the WAL is written before
  COMMIT returns) but not a power cut; ``SWITCHBOARD_AUDIT_SQLITE_SYNCHRONOUS=FULL`` adds one
  fsync per group commit for power-loss durability (see docs/audit.md for the measured cost).
- PostgreSQL: ``SELECT ... FOR UPDATE`` on each org's ``audit_chain_head`` row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from audit.autocheckpoint import AutoCheckpointer
from audit.prepare import PreparedEvent, hmac_index_rows
from audit.record import GENESIS_HASH, RECORD_FIELDS, AuditRecord, compute_record_hash
from audit.wal import WalCheckpointer
from core.errors import SwitchboardError, conflict, unavailable
from core.settings import get_settings
from core.sqlite_lock import is_busy, when_unlocked

log = logging.getLogger("switchboard.audit")
MAX_BATCH = 512
Heads = dict[str, tuple[int, str]]


def lock_timeout_ms() -> int:
    """How long an append waits for the chain lock (``SWITCHBOARD_AUDIT_LOCK_TIMEOUT_MS``).

    Defaults to the SQLite busy timeout setting (30 s); past it the append fails UNAVAILABLE.
    """
    raw = os.environ.get("SWITCHBOARD_AUDIT_LOCK_TIMEOUT_MS", "")
    return int(raw) if raw.isdigit() else get_settings().sqlite_busy_timeout_ms


def chain_batch(
    batch: Sequence[PreparedEvent], heads: Heads
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Heads]:
    """Number and hash ``batch`` after ``heads``; returns rows, HMAC index rows and new heads."""
    heads = dict(heads)
    rows: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    for item in batch:
        seq, prev = heads.get(item.org_id, (0, GENESIS_HASH))
        row = item.row  # a prepared event is written once: fill its row in place
        row["seq"] = seq + 1
        row["prev_hash"] = prev
        row["record_hash"] = compute_record_hash(row)
        heads[item.org_id] = (row["seq"], row["record_hash"])
        rows.append(row)
        index.extend(hmac_index_rows(item.org_id, row["seq"], item.hmacs))
    return rows, index, heads


class Backend(Protocol):
    async def open(self) -> None: ...

    async def probe(self) -> None: ...

    async def write(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


class SqliteBackend:
    """Writes batches on a stdlib ``sqlite3`` connection of its own.

    The write runs inline on the event loop when the database lock is free (no thread hop: a
    handoff to a worker thread costs more than the write itself under GIL contention). When
    another process holds the lock, the writer task retries after short pauses
    (:func:`core.sqlite_lock.when_unlocked`), then moves the batch to a worker thread that waits for it
    (``busy_timeout``), so the loop never blocks on another process.
    """

    _INSERT = f"INSERT INTO audit_event ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('?' for _ in RECORD_FIELDS)})"

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        if not path or path == ":memory:":
            raise unavailable("the audit log needs a file database, not :memory:")
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = os.environ.get("SWITCHBOARD_AUDIT_SQLITE_SYNCHRONOUS", "NORMAL").upper()
        if self.synchronous not in {"FULL", "NORMAL", "EXTRA"}:
            raise unavailable("SWITCHBOARD_AUDIT_SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA")
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self.wal = WalCheckpointer(path)  # WAL checkpoints off the append path (audit/wal.py)

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        self._open_sync()

    def _open_sync(self) -> None:
        if self._conn is not None:
            return
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # self.wal checkpoints in a worker thread
            conn.execute("SELECT 1 FROM audit_chain_head LIMIT 1").fetchall()
            conn.execute("PRAGMA busy_timeout=0")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def probe(self) -> None:
        try:
            self._probe_sync(wait=False)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            await self._in_thread(self._probe_sync, True)

    def _probe_sync(self, wait: bool) -> None:
        self._open_sync()
        assert self._conn is not None
        self._begin(wait)
        self._conn.execute("ROLLBACK")

    def _begin(self, wait: bool) -> None:
        assert self._conn is not None
        if not wait:
            self._conn.execute("BEGIN IMMEDIATE")
            return
        self._conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    def write_now(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        """Write ``batch`` inline; raises ``sqlite3.OperationalError`` (busy) when the lock is held."""
        return self._write_sync(batch, False)

    async def write(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        return await when_unlocked(
            lambda: self._write_sync(batch, False), lambda: self._in_thread(self._write_sync, batch, True)
        )

    def _write_sync(self, batch: Sequence[PreparedEvent], wait: bool) -> list[dict[str, Any]]:
        self._open_sync()
        conn = self._conn
        assert conn is not None
        orgs = sorted({item.org_id for item in batch})
        self._begin(wait)
        try:
            marks = ", ".join("?" for _ in orgs)
            heads: Heads = {
                org: (seq, head)
                for org, seq, head in conn.execute(
                    f"SELECT org_id, seq, head_hash FROM audit_chain_head WHERE org_id IN ({marks})", orgs
                )
            }
            known = set(heads)
            rows, index, new_heads = chain_batch(batch, heads)
            conn.executemany(self._INSERT, [tuple(row[f] for f in RECORD_FIELDS) for row in rows])
            if index:
                conn.executemany(
                    "INSERT OR IGNORE INTO audit_value_hmac (org_id, hmac, seq) VALUES (?, ?, ?)",
                    [(r["org_id"], r["hmac"], r["seq"]) for r in index],
                )
            for org in orgs:
                seq, head = new_heads[org]
                if org in known:
                    conn.execute(
                        "UPDATE audit_chain_head SET seq = ?, head_hash = ? WHERE org_id = ?", (seq, head, org)
                    )
                else:
                    conn.execute(
                        "INSERT INTO audit_chain_head (org_id, seq, head_hash) VALUES (?, ?, ?)", (org, seq, head)
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.wal.committed()
        return rows

    async def close(self) -> None:
        self.reset()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        await asyncio.to_thread(self.wal.close)

    def reset(self) -> None:
        """Drop the connection (after a failure; the next write reopens it)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class _StaleConnection(Exception):
    """A pooled connection was found closed before the batch wrote anything."""


class PostgresBackend:
    """Writes batches in one transaction that row-locks each org's chain head.

    Uses an engine of its own (a small pool bound to this appender's event loop), so appenders
    on several threads' loops work side by side.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock_timeout_ms = lock_timeout_ms()
        self._engine: Any = None

    def _get_engine(self) -> Any:
        if self._engine is None:
            from sqlalchemy.ext.asyncio import create_async_engine

            # lock_timeout per connection, not a SET LOCAL round trip per batch
            settings = {"lock_timeout": str(int(self.lock_timeout_ms))}
            self._engine = create_async_engine(
                self.url,
                pool_size=1,
                max_overflow=4,
                pool_pre_ping=False,  # a dead connection fails its batch and is dropped by the pool
                connect_args={"server_settings": settings},
            )
        return self._engine

    async def open(self) -> None:
        await self.probe()

    async def probe(self) -> None:
        from sqlalchemy import text

        async with self._get_engine().connect() as conn:
            await conn.execute(text("SELECT 1 FROM audit_chain_head LIMIT 1"))

    async def write(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        """Four round trips per batch: BEGIN, lock the heads, one statement writing it all, COMMIT.

        No ping before each batch: a pooled connection found dead before anything was written
        (the server restarted) is dropped and the batch retried once on a fresh one.
        """
        try:
            return await self._write(batch, fresh=False)
        except _StaleConnection:
            return await self._write(batch, fresh=True)

    async def _write(self, batch: Sequence[PreparedEvent], *, fresh: bool) -> list[dict[str, Any]]:
        from sqlalchemy import select, text
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        from audit.schema import audit_chain_head as head

        orgs = sorted({item.org_id for item in batch})
        lock = select(head.c.org_id, head.c.seq, head.c.head_hash).where(head.c.org_id.in_(orgs))
        lock = lock.order_by(head.c.org_id).with_for_update()
        async with self._get_engine().begin() as conn:
            try:
                heads: Heads = {r.org_id: (r.seq, r.head_hash) for r in await conn.execute(lock)}
            except DBAPIError as exc:
                if exc.connection_invalidated and not fresh:
                    raise _StaleConnection from exc
                raise
            missing = [org for org in orgs if org not in heads]
            if missing:
                await conn.execute(
                    pg_insert(head)
                    .values([{"org_id": o, "seq": 0, "head_hash": GENESIS_HASH} for o in missing])
                    .on_conflict_do_nothing()
                )
                heads = {r.org_id: (r.seq, r.head_hash) for r in await conn.execute(lock)}
            rows, index, new_heads = chain_batch(batch, heads)
            moved = [{"org_id": org, "seq": new_heads[org][0], "head_hash": new_heads[org][1]} for org in orgs]
            await conn.execute(
                text(_PG_WRITE),
                {"rows": _JSON.encode(rows), "index": _JSON.encode(index), "heads": _JSON.encode(moved)},
            )
        return rows

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    def reset(self) -> None:
        return None


_COLUMNS = ", ".join(RECORD_FIELDS)
# The rows go as one JSON parameter each (json_populate_recordset types them by the table's own
# columns): one statement and one round trip for the events, their value HMACs and the heads.
_PG_WRITE = f"""
WITH events AS (
    INSERT INTO audit_event ({_COLUMNS})
    SELECT {_COLUMNS} FROM json_populate_recordset(NULL::audit_event, CAST(:rows AS json))
), hmacs AS (
    INSERT INTO audit_value_hmac (org_id, hmac, seq)
    SELECT org_id, hmac, seq FROM json_populate_recordset(NULL::audit_value_hmac, CAST(:index AS json))
    ON CONFLICT DO NOTHING
)
UPDATE audit_chain_head AS h SET seq = u.seq, head_hash = u.head_hash
FROM json_populate_recordset(NULL::audit_chain_head, CAST(:heads AS json)) AS u
WHERE h.org_id = u.org_id
"""
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _error_for(exc: BaseException) -> SwitchboardError:
    if isinstance(exc, SwitchboardError):
        return exc
    text = str(exc)
    if "event_id" in text and ("UNIQUE" in text or "unique" in text or "duplicate" in text):
        return conflict("an audit event with this event_id is already recorded")
    log.error("audit append failed: %s", type(exc).__name__)
    return unavailable(f"the audit log cannot be written ({type(exc).__name__}); nothing was recorded")


class Appender:
    """The group-commit queue for one database on one event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            from sqlalchemy.engine import make_url

            self.backend: Any = SqliteBackend(make_url(url).database or "", lock_timeout_ms())
        else:
            self.backend = PostgresBackend(url)
        self._pending: list[tuple[PreparedEvent, asyncio.Future[AuditRecord]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._active = False  # a leader, the writer task or a probe owns the connection
        self._probe_lock: asyncio.Lock | None = None
        self._healthy = False
        self._opened = False
        self.checkpointer = AutoCheckpointer()

    async def ready(self) -> None:
        """Raise UNAVAILABLE unless an append can be written now (cheap once healthy).

        The probe owns the connection like a writer does: appends queue behind it.
        """
        if self._healthy:
            return
        if self._probe_lock is None:
            self._probe_lock = asyncio.Lock()
        async with self._probe_lock:
            if self._healthy:
                return
            while self._active:  # a writer owns the connection: let it finish first
                if self._writer is not None and not self._writer.done():
                    await asyncio.wait({self._writer})
                else:
                    await asyncio.sleep(0.001)
            self._active = True
            try:
                if not self._opened:
                    await self._open()
                await self.backend.probe()
            except Exception as exc:
                self.backend.reset()
                raise _error_for(exc) from None
            finally:
                self._active = False
                if self._pending:
                    self._start_writer()
            self._healthy = True

    async def _open(self) -> None:
        try:
            await self.backend.open()
        except Exception as exc:
            if "audit_chain_head" not in str(exc):
                raise
            from core.db import get_engine

            self.backend.reset()
            await get_engine(self.url)  # a database without the audit tables yet: migrate it
            await self.backend.open()
        self._opened = True

    async def append(self, item: PreparedEvent) -> AuditRecord:
        """Queue ``item``; returns its record once the transaction holding it has committed.

        The first caller to find the appender idle leads: it yields once so that concurrent
        appends join its batch, then writes the batch inline (SQLite, lock free). Everything
        else (a held lock, a failure, PostgreSQL, more work queued) goes through the writer
        task, which isolates failing records and waits for locks off the event loop.
        """
        if not self._opened:
            await self.ready()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AuditRecord] = loop.create_future()
        self._pending.append((item, future))
        if self._active:
            return await future  # a caller giving up cancels only its wait: the record is still written
        self._active = True
        if not isinstance(self.backend, SqliteBackend):
            self._start_writer()
            return await future
        try:
            await asyncio.sleep(0)  # let concurrent appends join this batch
        except asyncio.CancelledError:
            self._start_writer()
            raise
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        try:
            rows = self.backend.write_now([entry for entry, _ in batch])
        except Exception:  # a held lock or a failure: the writer task deals with it
            self._pending[:0] = batch
            self._start_writer()
            return await future
        self._healthy = True
        self.checkpointer.observe(rows)
        for (_, waiter), row in zip(batch, rows, strict=True):
            _settle(waiter, record=AuditRecord.from_row(row))
        if self._pending:
            self._start_writer()
        else:
            self._active = False
        return future.result()

    def _start_writer(self) -> None:
        self._active = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write(batch)
        finally:
            self._active = False

    async def _write(self, batch: list[tuple[PreparedEvent, asyncio.Future[AuditRecord]]]) -> None:
        try:
            rows = await self.backend.write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:  # isolate the failing record; the others still get written
                for one in batch:
                    await self._write([one])
                return
            self._healthy = False
            self.backend.reset()
            _settle(batch[0][1], error=_error_for(exc))
            return
        self._healthy = True
        self.checkpointer.observe(rows)
        for (_, future), row in zip(batch, rows, strict=True):
            _settle(future, record=AuditRecord.from_row(row))

    async def aclose(self) -> None:
        if self._writer is not None and not self._writer.done():
            await self._writer
        await self.checkpointer.aclose()  # clean shutdown: every committed head gets signed
        await self.backend.close()


def _settle(
    future: asyncio.Future[AuditRecord], *, record: AuditRecord | None = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert record is not None
        future.set_result(record)


_appenders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Appender]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()
_default_url: list[Any] = [None, ""]


def get_appender(url: str | None = None) -> Appender:
    """The appender for ``url`` (default: the configured database) on the running loop."""
    if url is None:
        settings = get_settings()
        if _default_url[0] is not settings:  # resolve once per settings object
            _default_url[:] = [settings, settings.resolved_database_url]
        url = _default_url[1]
    loop = asyncio.get_running_loop()
    per_loop = _appenders.get(loop)
    if per_loop is None or url not in per_loop:
        with _registry_lock:
            per_loop = _appenders.setdefault(loop, {})
            if url not in per_loop:
                per_loop[url] = Appender(url)
    return per_loop[url]


async def close_appenders() -> None:
    """Flush and close this loop's appenders (end of a CLI command or a test)."""
    loop = asyncio.get_running_loop()
    with _registry_lock:
        per_loop = _appenders.pop(loop, {})
    for appender in per_loop.values():
        await appender.aclose()
