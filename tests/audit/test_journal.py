"""The write-ahead journal of the servers' tool-call records: durable before the answer, never lost.

A call answers once its record is a line in the process's journal; the appender chains it right
after. These tests break that path the ways a machine does: the process killed -9 while its
records wait for a busy database, a line torn by the crash, a disk that refuses the write, a line
chained twice.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp import Client
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from audit import append, append_journaled, close, flush, ready, verify_chain
from audit.journal import Journal, candidates, directory_for, pending_orphan_entries, read_entries
from audit.log import _prepare
from audit.middleware import AuditHook
from audit.store import tail
from core.errors import ErrorCode, SwitchboardError
from servers.kit import ServerLaunch, build_server

from .helpers import event, sql

pytestmark = pytest.mark.usefixtures("audit_db")
WRITER = Path(__file__).with_name("proc_writer.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(audit_db: str) -> str:
    if not audit_db.startswith("sqlite"):
        pytest.skip("the journal is SQLite's: on PostgreSQL a call waits for its commit")
    return make_url(audit_db).database or ""


async def _event_ids() -> list[str]:
    return [row[0] for row in await sql("SELECT event_id FROM audit_event WHERE org_id = 'acme' ORDER BY seq")]


async def test_a_journaled_record_is_chained_and_the_journal_emptied(db_path):
    await append_journaled(event(1, event_id="0190a3c4-0000-7000-8000-000000000001"))
    await flush()
    assert await _event_ids() == ["0190a3c4-0000-7000-8000-000000000001"]
    [path] = candidates(db_path)
    assert path.stat().st_size == 0  # emptied once chained; kept open while the process lives
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    await close()
    assert candidates(db_path) == []  # removed at clean shutdown


def _writer(sb_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    env = {**sb_env, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), "--journaled", *args],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _acks(proc: subprocess.Popen[str], count: int) -> list[str]:
    acked = []
    while len(acked) < count:
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("ack "), (line, proc.stderr.read() if proc.poll() is not None else "")
        acked.append(line.split()[1])
    return acked


async def test_records_of_a_process_killed_while_the_database_was_busy_are_chained_by_the_next(
    db_path, sb_env, tmp_path
):
    await ready("acme")
    await append(event(0))  # seq 1, before the crash
    proc = _writer(sb_env, "--count", "25", "--concurrency", "5", "--go", str(tmp_path / "go"))
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's records cannot be chained meanwhile
        try:
            (tmp_path / "go").touch()
            acked = await _acks(proc, 25)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(await _event_ids()) == 1  # none of the acknowledged calls is in the log yet...
    assert pending_orphan_entries(db_path) == 25  # ...but every one is in the dead process's journal

    await close()  # a new appender in this process finds the orphan journal when it opens
    await append(event(99))
    ids = await _event_ids()
    assert len(ids) == 27 and set(acked) <= set(ids) and len(set(ids)) == 27  # each once
    assert candidates(db_path) == [] or all(p.stat().st_size == 0 for p in candidates(db_path))
    report = await verify_chain("acme")
    assert report.ok and report.records == 27


async def test_a_process_that_ends_normally_chains_its_journal_on_the_way_out(db_path, sb_env, tmp_path):
    await ready("acme")
    proc = _writer(sb_env, "--count", "10", "--concurrency", "2", "--no-close", "--go", str(tmp_path / "go"))
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            (tmp_path / "go").touch()
            acked = await _acks(proc, 10)
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "done"
        finally:
            blocker.execute("ROLLBACK")  # now the exiting process can chain them
            blocker.close()
        assert await asyncio.to_thread(proc.wait, 30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(await _event_ids()) == sorted(acked)
    assert candidates(db_path) == []  # chained and removed by the exiting process itself
    assert (await verify_chain("acme")).ok


def _orphan(db_path: str, lines: list[bytes]) -> Path:
    folder = directory_for(db_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "4242-deadbeef0000.jnl"
    path.write_bytes(b"".join(lines))
    return path


def _line_of(ev) -> bytes:
    from audit.journal import _line

    return _line(_prepare(ev))


async def test_a_torn_line_is_dropped_and_a_line_already_chained_is_not_chained_again(db_path):
    chained = event(1, event_id="0190a3c4-0000-7000-8000-00000000000a")
    await append(chained)
    whole = _line_of(event(2, event_id="0190a3c4-0000-7000-8000-00000000000b"))
    torn = _line_of(event(3, event_id="0190a3c4-0000-7000-8000-00000000000c"))[:-40]
    corrupt = bytearray(_line_of(event(4, event_id="0190a3c4-0000-7000-8000-00000000000d")))
    corrupt[40] ^= 1  # one flipped bit: the checksum fails
    path = _orphan(db_path, [_line_of(chained), whole, bytes(corrupt), torn])
    assert [e.row["event_id"][-1] for e in read_entries(path)] == ["a", "b"]

    await close()
    await ready("acme")
    assert await _event_ids() == ["0190a3c4-0000-7000-8000-00000000000a", "0190a3c4-0000-7000-8000-00000000000b"]
    assert not path.exists()
    assert (await verify_chain("acme")).ok


async def test_a_live_process_journal_is_left_alone(db_path):
    live = Journal(db_path)
    live.write(_prepare(event(5)))  # held under its flock, as a running server holds it
    try:
        assert pending_orphan_entries(db_path) == 0
        await close()
        await ready("acme")
        assert await _event_ids() == []
    finally:
        live.close()  # not empty: the file stays, now an orphan
    assert pending_orphan_entries(db_path) == 1
    await close()
    await ready("acme")
    assert len(await _event_ids()) == 1


class Found(BaseModel):
    phone: str


async def test_a_journal_that_cannot_be_written_withholds_the_answer(db_path, monkeypatch):
    server = build_server(
        "test",
        "1.0.0",
        instructions="t",
        launch=ServerLaunch(org_id="acme", customer_ref="C-1"),
        hooks=[AuditHook("test")],
    )
    ran = {"n": 0}

    @server.tool
    async def lookup(phone: str) -> Found:
        """Find a customer."""
        ran["n"] += 1
        return Found(phone=phone)

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with Client(server) as client:
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1234-0001"})).is_error
        monkeypatch.setattr("audit.journal.os.write", disk_full)
        result = await client.call_tool_mcp("lookup", {"phone": "010-1234-0002"})
        assert result.is_error and '"UNAVAILABLE"' in result.content[0].text
        assert "010-1234-0002" not in result.content[0].text  # the result was withheld
        assert ran["n"] == 2
        monkeypatch.undo()
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1234-0003"})).is_error
    await flush()
    assert [r.seq for r in await tail("acme")] == [1, 2]
    assert (await verify_chain("acme")).ok


async def test_journal_off_makes_a_call_wait_for_its_commit(db_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AUDIT_JOURNAL", "off")
    await close()
    await append_journaled(event(1))
    assert len(await _event_ids()) == 1  # committed before it returned: no flush needed
    assert candidates(db_path) == []
    monkeypatch.setenv("SWITCHBOARD_AUDIT_JOURNAL", "maybe")
    await close()
    with pytest.raises(SwitchboardError) as err:
        await append_journaled(event(2))
    assert err.value.code is ErrorCode.UNAVAILABLE and "SWITCHBOARD_AUDIT_JOURNAL" in err.value.message


async def test_steady_calls_share_paced_commits_and_a_lone_call_is_chained_at_once(db_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS", "1000")
    await close()
    await append_journaled(event(0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await flush()  # the appender is open; the last chaining started after `started`
    from audit.appender import get_appender

    appender = get_appender()
    commits: list[tuple[int, float]] = []
    write = appender.backend.write

    async def counting(batch):
        commits.append((len(batch), loop.time()))
        return await write(batch)

    monkeypatch.setattr(appender.backend, "write", counting)
    for i in range(1, 21):  # one call after another, 2 ms apart
        await append_journaled(event(i))
        await asyncio.sleep(0.002)
    sent = loop.time()
    while sum(n for n, _ in commits) < 20 and loop.time() - started < 10:
        await asyncio.sleep(0.01)
    assert [n for n, _ in commits] == [20], commits  # one paced transaction took every line
    if sent - started < 0.9:  # (a box so slow that the calls outlast the interval proves nothing)
        assert commits[0][1] - started >= 0.99, "a transaction started before the interval had passed"
    await asyncio.sleep(1.05)  # a quiet spell longer than the interval
    lone = loop.time()
    await append_journaled(event(21))
    while len(commits) < 2 and loop.time() - lone < 10:
        await asyncio.sleep(0.005)
    assert [n for n, _ in commits] == [20, 1]
    assert commits[1][1] - lone < 0.5, "a lone call waited for the interval"
    assert len(await _event_ids()) == 22
    assert (await verify_chain("acme")).ok


async def test_a_full_batch_is_chained_without_waiting_for_the_interval(db_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS", "1000")
    await close()
    await append_journaled(event(0))
    await flush()
    from audit.appender import MAX_BATCH

    for i in range(1, MAX_BATCH + 1):
        await append_journaled(event(i))
    await asyncio.sleep(0.3)  # far less than the interval
    assert len(await _event_ids()) == MAX_BATCH + 1


@pytest.mark.parametrize("value", ["soon", "nan"])
async def test_a_wrong_interval_is_refused(db_path, monkeypatch, value):
    monkeypatch.setenv("SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS", value)
    await close()
    with pytest.raises(SwitchboardError) as err:
        await append_journaled(event(1))
    assert err.value.code is ErrorCode.UNAVAILABLE and "SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS" in err.value.message
