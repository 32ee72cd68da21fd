"""audit/wal.py: the appender's WAL is checkpointed in a worker thread, never inside an append."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from audit import append, verify_chain
from audit.appender import get_appender

from .helpers import event


def _sqlite_only(url: str) -> Path:
    if not url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL has no write-ahead log file to checkpoint")
    return Path(url.split("///", 1)[1])


async def test_appends_are_checkpointed_in_the_background(audit_db):
    path = _sqlite_only(audit_db)
    await append(event(0))
    backend = get_appender().backend
    backend.wal.every = 20
    assert backend._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    await asyncio.to_thread(backend.wal._checkpoint)  # the migrations' pages are in the file now
    size_before = path.stat().st_size

    for start in range(1, 301, 50):  # bursts: group commits and single commits alike
        await asyncio.gather(*(append(event(i)) for i in range(start, start + 25)))
        for i in range(start + 25, start + 50):
            await append(event(i))
    await asyncio.to_thread(backend.wal.wait)

    assert backend.wal.checkpoints >= 3
    assert path.stat().st_size > size_before  # the checkpoints copied the appends into the file
    report = await verify_chain("acme")
    assert report.ok and report.records == 301


async def test_a_failing_checkpoint_never_fails_an_append(audit_db, tmp_path):
    _sqlite_only(audit_db)
    await append(event(0))
    wal = get_appender().backend.wal
    wal.every = 5
    wal.path = str(tmp_path / "missing-dir" / "gone.db")  # cannot be opened: every checkpoint fails

    records = [await append(event(i)) for i in range(1, 31)]
    await asyncio.to_thread(wal.wait)

    assert [r.seq for r in records] == list(range(2, 32))
    assert wal.checkpoints == 0
    assert (await verify_chain("acme")).ok


async def test_other_connections_keep_sqlites_automatic_checkpoint(audit_db):
    path = _sqlite_only(audit_db)
    await append(event(0))
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
