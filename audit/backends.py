"""Where the audit appender writes: one transaction per batch that extends each org's chain.

- SQLite (:class:`SqliteBackend`): ``BEGIN IMMEDIATE`` (the database write lock) before the chain
  heads are read, on a stdlib ``sqlite3`` connection of its own, in WAL mode. ``synchronous=NORMAL``
  by default: a committed append survives kill -9 of any process (the WAL is written before
  COMMIT returns) but not a power cut; ``SWITCHBOARD_AUDIT_SQLITE_SYNCHRONOUS=FULL`` adds one
  fsync per group commit for power-loss durability (see docs/audit.md for the measured cost).
- PostgreSQL (:class:`PostgresBackend`): ``SELECT ... FOR UPDATE`` on each org's
  ``audit_chain_head`` row.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from audit.prepare import PreparedEvent, hmac_index_rows
from audit.record import GENESIS_HASH, RECORD_FIELDS, compute_record_hash
from audit.wal import WalCheckpointer
from core.errors import unavailable
from core.settings import get_settings
from core.sqlite_lock import is_busy, when_unlocked

Heads = dict[str, tuple[int, str]]


def lock_timeout_ms() -> int:
    """How long an append waits for the chain lock (``SWITCHBOARD_AUDIT_LOCK_TIMEOUT_MS``).

    Defaults to the SQLite busy timeout setting (30 s); past it the append fails UNAVAILABLE.
    """
    raw = os.environ.get("SWITCHBOARD_AUDIT_LOCK_TIMEOUT_MS", "")
    return int(raw) if raw.isdigit() else get_settings().sqlite_busy_timeout_ms


_record_values = operator.itemgetter(*RECORD_FIELDS)  # a row's values in column order (one C call)


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

    def write_waiting(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        """Write ``batch`` in this thread, waiting for the lock up to the busy timeout (no event loop)."""
        return self._write_sync(batch, True)

    async def write(self, batch: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        """Write ``batch`` inline when the lock is free, else in the worker thread that waits for it."""
        return await when_unlocked(
            lambda: self._write_sync(batch, False), lambda: self._in_thread(self._write_sync, batch, True)
        )

    def unrecorded(self, entries: Sequence[PreparedEvent]) -> list[PreparedEvent]:
        """The ``entries`` whose ``event_id`` is not in the log yet (a journal's lines may be chained twice)."""
        self._open_sync()
        assert self._conn is not None
        ids = [entry.row["event_id"] for entry in entries]
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            query = f"SELECT event_id FROM audit_event WHERE event_id IN ({marks})"
            found.update(row[0] for row in self._conn.execute(query, chunk))
        return [entry for entry in entries if entry.row["event_id"] not in found]

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
            conn.executemany(self._INSERT, [_record_values(row) for row in rows])
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
        from sqlalchemy.exc import DBAPIError

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
