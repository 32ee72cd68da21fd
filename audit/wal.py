"""SQLite WAL checkpoints for the audit appender, in a worker thread instead of inside an append.

SQLite's automatic checkpoint runs inside the COMMIT that pushes the write-ahead log past 1,000
pages: that append then copies the log into the database file and waits for two ``fdatasync``
calls, a few to tens of milliseconds on a busy disk, every ~140 appends (about seven pages per
append). The appender's own connection therefore turns the automatic checkpoint off
(``PRAGMA wal_autocheckpoint=0``) and :class:`WalCheckpointer` runs ``PRAGMA
wal_checkpoint(PASSIVE)`` on a connection of its own in a worker thread after every
:data:`EVERY_COMMITS` commits. A passive checkpoint never blocks a writer or a reader; SQLite
releases the GIL while it copies and syncs, so the event loop goes on serving calls.

Durability is unchanged: a commit is in the WAL before COMMIT returns, whoever checkpoints it
later. Other connections to the same file (the server's engine, the host) keep SQLite's default
automatic checkpoint. A failed checkpoint is logged and retried after the next
:data:`EVERY_COMMITS` commits; it never fails an append.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("switchboard.audit")
EVERY_COMMITS = 100  # ~700 pages of log between checkpoints (SQLite's own threshold is 1,000)


class WalCheckpointer:
    """Checkpoints one SQLite file's WAL in the background, every ``every`` commits."""

    def __init__(self, path: str, every: int = EVERY_COMMITS) -> None:
        self.path = path
        self.every = every
        self.checkpoints = 0  # completed checkpoints (for tests and curiosity)
        self._commits = 0
        self._lock = threading.Lock()
        self._running: Future[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    def committed(self, count: int = 1) -> None:
        """Note ``count`` committed transactions; start a checkpoint when one is due (any thread)."""
        with self._lock:
            self._commits += count
            if self._commits < self.every or (self._running is not None and not self._running.done()):
                return
            self._commits = 0
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-wal")
            self._running = self._executor.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # busy with another checkpoint, or the file went away
            log.debug("audit WAL checkpoint skipped: %s", exc)
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def wait(self) -> None:
        """Wait for a running checkpoint (tests, shutdown)."""
        running = self._running
        if running is not None:
            running.result()

    def close(self) -> None:
        """Wait for a running checkpoint, then release the thread and the connection."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._drop()
