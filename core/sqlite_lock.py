"""Waiting for SQLite's write lock without blocking the event loop.

Writers that run inline on the event loop (the audit appender, the host's record writer) open
their transactions with ``busy_timeout=0``: when another connection holds the lock they get
SQLITE_BUSY at once. :func:`when_unlocked` then retries after short pauses on the loop — SQLite's
own busy handler sleeps 1, 2, 5, 10, 15 ... ms between tries, so a lock held for 3 ms would cost
8 ms; polling notices the release within about a millisecond — and finally hands the write to a
caller-supplied waiting path (a worker thread with the busy timeout).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Pauses between inline tries (~20 ms in all) before the write moves to the waiting path.
BUSY_POLL_S = (0.0005, 0.001, 0.001, 0.001, 0.002, 0.002, 0.002, 0.004, 0.004, 0.004)


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` (sqlite3's, or SQLAlchemy's wrapping it) says the database is locked."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(orig, sqlite3.OperationalError) and (
        code in (5, 6) or (code is None and "locked" in str(orig))  # SQLITE_BUSY, SQLITE_LOCKED
    )


async def when_unlocked(
    attempt: Callable[[], T],
    wait: Callable[[], Awaitable[T]],
    *,
    busy: Callable[[BaseException], bool] = is_busy,
) -> T:
    """``attempt()`` inline; while it fails with ``busy``, again after each pause of
    :data:`BUSY_POLL_S`; then ``await wait()``. Other errors propagate at once."""
    for delay in (*BUSY_POLL_S, None):
        try:
            return attempt()
        except Exception as exc:
            if not busy(exc):
                raise
        if delay is None:
            break
        await asyncio.sleep(delay)  # writes queued meanwhile go into the next batch
    return await wait()
