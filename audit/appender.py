"""Group commit: concurrent appends share one chain-locked transaction, acknowledged after commit.

Each event loop gets one :class:`Appender` per database. Callers queue prepared events; a single
writer task takes everything queued, writes it in one transaction (``audit/backends.py``) and
resolves every caller's future with its record only after COMMIT. While one batch commits, the
next one gathers. Tool-call records of the servers take the journal instead
(:meth:`Appender.append_journaled`, ``audit/journal.py``): durable before the call answers,
chained a moment later.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from audit.autocheckpoint import AutoCheckpointer
from audit.backends import PostgresBackend, SqliteBackend, lock_timeout_ms
from audit.deferred import DeferredEvent
from audit.journal import Journal, candidates, claimed, read_entries
from audit.journal import enabled as journal_enabled
from audit.prepare import PreparedEvent
from audit.record import AuditRecord
from core.errors import ErrorCode, SwitchboardError, conflict, unavailable
from core.settings import get_settings

log = logging.getLogger("switchboard.audit")
MAX_BATCH = 512


def _error_for(exc: BaseException) -> SwitchboardError:
    if isinstance(exc, SwitchboardError):
        return exc
    text = str(exc)
    if "event_id" in text and ("UNIQUE" in text or "unique" in text or "duplicate" in text):
        return conflict("an audit event with this event_id is already recorded")
    log.error("audit append failed: %s", type(exc).__name__)
    return unavailable(f"the audit log cannot be written ({type(exc).__name__}); nothing was recorded")


class Appender:
    """The group-commit queue for one database on one event loop.

    On SQLite it also keeps the write-ahead journal of tool-call records (``audit/journal.py``):
    :meth:`append_journaled` returns once a record's line is in the journal, and the writer
    task chains it a moment later (``SWITCHBOARD_AUDIT_JOURNAL_DELAY_MS``), once the call's answer
    has been sent, together with whatever else was journaled meanwhile.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.journal: Journal | None = None
        if url.startswith("sqlite"):
            from sqlalchemy.engine import make_url

            self.backend: Any = SqliteBackend(make_url(url).database or "", lock_timeout_ms())
            if journal_enabled():
                self.journal = Journal(self.backend.path, sync=self.backend.synchronous != "NORMAL")
                self._loop = weakref.ref(asyncio.get_running_loop())
                _journaling.add(self)
        else:
            self.backend = PostgresBackend(url)
        # a journaled record has no waiter: its future is None
        self._pending: list[tuple[PreparedEvent | DeferredEvent, asyncio.Future[AuditRecord] | None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._active = False  # a leader, the writer task or a probe owns the connection
        self._probe_lock: asyncio.Lock | None = None
        self._healthy = False
        self._opened = False
        self._journaled = 0  # journal lines not chained yet
        self._chain_scheduled = False
        self._chained_at = float("-inf")  # loop time the writer task last started (paces the journal's)
        self._journal_dirty = False  # chaining a line failed: the journal is replayed by the next probe
        self.checkpointer = AutoCheckpointer()

    async def ready(self) -> None:
        """Raise UNAVAILABLE unless an append can be written now (cheap once healthy).

        The probe owns the connection like a writer does: appends queue behind it. After a
        journaled record failed to be chained, a successful probe chains the journal first.
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
                if self._journal_dirty and self.journal is not None:
                    await self._chain_missing(self.journal.entries())
                    self._journal_dirty = False
                    if not self._journaled:
                        self.journal.clear()
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
        if self.journal is not None:
            await self._recover_journals()
        self._opened = True

    async def _recover_journals(self) -> None:
        """Chain what the journals of stopped processes hold, then remove them (fail closed)."""
        assert isinstance(self.backend, SqliteBackend)
        for path in candidates(self.backend.path):
            with claimed(path) as free:
                if not free:
                    continue  # a live process's journal
                chained = await self._chain_missing(read_entries(path))
                path.unlink(missing_ok=True)
            if chained:
                log.warning("audit: chained %d record(s) from the journal of a stopped process", chained)

    async def _chain_missing(self, entries: list[PreparedEvent]) -> int:
        """Write the ``entries`` whose ``event_id`` is not in the log yet; returns how many."""
        missing = self.backend.unrecorded(entries)
        for start in range(0, len(missing), MAX_BATCH):
            rows = await self.backend.write(missing[start : start + MAX_BATCH])
            self.checkpointer.observe(rows)
        return len(missing)

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
        self._committed(batch, rows)
        if self._pending:
            self._start_writer()
        else:
            self._active = False
        return future.result()

    async def append_journaled(self, item: PreparedEvent | DeferredEvent) -> None:
        """Return once ``item`` is durable in the journal; it is chained right after, off this path
        (a deferred record is redacted then: ``audit/deferred.py``).

        PostgreSQL has no journal (the database is usually on another machine than this
        process's disk): there the record is committed before this returns, as :meth:`append`.
        """
        if self.journal is None:
            await self.append(item.prepared() if isinstance(item, DeferredEvent) else item)
            return
        if not self._healthy:
            await self.ready()
        self.journal.write(item)
        self._journaled += 1
        self._pending.append((item, None))
        if self._active:
            return  # the writer takes it with what else is queued
        if len(self._pending) >= MAX_BATCH:
            self._chain_journaled()  # a full batch waits: no pacing
        elif not self._chain_scheduled:
            # after the answer has left (the call's own task goes on to send it meanwhile), and
            # paced: under steady traffic one transaction per interval takes every line since the last
            loop = asyncio.get_running_loop()
            wait = max(self.journal.delay_s, self._chained_at + self.journal.interval_s - loop.time())
            self._chain_scheduled = True
            loop.call_later(wait, self._chain_journaled)

    def _chain_journaled(self) -> None:
        self._chain_scheduled = False
        if not self._pending or self._active:
            return
        loop = asyncio.get_running_loop()
        wait = self._chained_at + self.journal.interval_s - loop.time() if self.journal else 0.0
        if wait > 0 and len(self._pending) < MAX_BATCH:  # a timer set before a flush started a writer
            self._chain_scheduled = True
            loop.call_later(wait, self._chain_journaled)
            return
        self._start_writer()

    def _committed(
        self, batch: Sequence[tuple[PreparedEvent, asyncio.Future[AuditRecord] | None]], rows: list[dict[str, Any]]
    ) -> None:
        """Settle the waiters of a committed batch; empty the journal once every line is chained."""
        self._healthy = True
        self.checkpointer.observe(rows)
        for (_, waiter), row in zip(batch, rows, strict=True):
            if waiter is None:
                self._journaled -= 1
            else:
                _settle(waiter, record=AuditRecord.from_row(row))
        if self.journal is not None and not self._journaled and not self._journal_dirty:
            self.journal.clear()

    def _start_writer(self) -> None:
        self._active = True
        if self._writer is None or self._writer.done():
            loop = asyncio.get_running_loop()
            self._chained_at = loop.time()
            self._writer = loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write(await _redacted(batch))
        finally:
            self._active = False

    async def _write(self, batch: list[tuple[PreparedEvent, asyncio.Future[AuditRecord] | None]]) -> None:
        try:
            rows = await self.backend.write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:  # isolate the failing record; the others still get written
                for one in batch:
                    await self._write([one])
                return
            error = _error_for(exc)
            waiter = batch[0][1]
            if waiter is not None:
                self._healthy = False
                self.backend.reset()
                _settle(waiter, error=error)
                return
            self._journaled -= 1
            if error.code is not ErrorCode.CONFLICT:  # CONFLICT: its event_id is in the log already
                # the line stays in the journal; calls are refused until a probe chains it
                log.error("audit: a journaled record was not chained (%s); it stays in the journal", error.code.value)
                self._healthy = False
                self._journal_dirty = True
                self.backend.reset()
            return
        self._committed(batch, rows)

    async def aclose(self) -> None:
        if self._writer is not None and not self._writer.done():
            await self._writer
        await self.checkpointer.aclose()  # clean shutdown: every committed head gets signed
        if self.journal is not None:
            if not self._journaled and not self._journal_dirty:
                self.journal.clear()
            self.journal.close()  # kept when it still holds lines: the next appender chains them
            _journaling.discard(self)
        await self.backend.close()

    def chain_at_exit(self) -> None:
        """The process ends (its event loop is gone): chain what the journal still holds, in this thread."""
        if self.journal is None or not self.journal.is_open:
            return
        try:
            entries = self.journal.entries()
            if not entries:  # nothing left (the usual case): no database work, not even a connection
                return
            missing = self.backend.unrecorded(entries)
            for start in range(0, len(missing), MAX_BATCH):
                self.checkpointer.observe(self.backend.write_waiting(missing[start : start + MAX_BATCH]))
            self.journal.clear()
        except Exception as exc:  # the lines stay: the next appender to open the database chains them
            log.error("audit: the journal was not chained at exit (%s); the next start chains it", exc, exc_info=True)
        finally:
            self.journal.close()

    async def flush(self) -> None:
        """Wait until every record queued on this appender (journaled ones too) is chained."""
        if self._pending and not self._active:
            self._start_writer()  # journaled records waiting for their delay: now
        while self._writer is not None and not self._writer.done():
            await asyncio.wait({self._writer})


async def _redacted(
    batch: list[tuple[PreparedEvent | DeferredEvent, asyncio.Future[AuditRecord] | None]],
) -> list[tuple[PreparedEvent, asyncio.Future[AuditRecord] | None]]:
    """``batch`` with its deferred records redacted; a call waiting to be served gets the loop
    between two of them (each takes ~0.1 ms), so chaining a batch delays an answer by one at most."""
    out: list[tuple[PreparedEvent, asyncio.Future[AuditRecord] | None]] = []
    for item, waiter in batch:
        if isinstance(item, DeferredEvent):
            if out:
                await asyncio.sleep(0)
            item = item.prepared()
        out.append((item, waiter))
    return out


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


_journaling: set[Appender] = set()  # held until closed: an appender outlives its loop until chained


def _chain_after_closed_loops() -> None:
    """An appender whose event loop ended without closing it chains its journal now, in this thread."""
    for appender in list(_journaling):
        loop = appender._loop()
        if loop is None or loop.is_closed():
            _journaling.discard(appender)
            appender.chain_at_exit()


@atexit.register  # registered after audit.autocheckpoint's, so it runs first: the exit checkpoint covers these
def _chain_journals_at_exit() -> None:
    for appender in list(_journaling):
        appender.chain_at_exit()


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
                _chain_after_closed_loops()
                per_loop[url] = Appender(url)
    return per_loop[url]


async def flush_appenders() -> None:
    """Wait until this loop's appenders have chained everything queued (journaled records too)."""
    for appender in list(_appenders.get(asyncio.get_running_loop(), {}).values()):
        await appender.flush()


async def close_appenders() -> None:
    """Flush and close this loop's appenders (end of a CLI command or a test)."""
    loop = asyncio.get_running_loop()
    with _registry_lock:
        per_loop = _appenders.pop(loop, {})
    for appender in per_loop.values():
        await appender.aclose()
