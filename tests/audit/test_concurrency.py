"""Concurrent writers (tasks, threads, processes) keep one gapless chain; kill -9 loses no ack."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audit import append, close, verify_chain
from audit.store import get_record

from .helpers import event, sql

pytestmark = pytest.mark.usefixtures("audit_db")
WRITER = Path(__file__).with_name("proc_writer.py")
ROOT = Path(__file__).resolve().parents[2]


async def _assert_gapless(org: str, count: int) -> None:
    rows = await sql(f"SELECT seq FROM audit_event WHERE org_id = '{org}' ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, count + 1))
    report = await verify_chain(org)
    assert report.ok and report.records == count, report.to_dict()


async def test_fifty_concurrent_async_writers_keep_one_chain_per_org():
    rng = random.Random(7)
    plan = [[rng.choice(["acme", "beta"]) for _ in range(12)] for _ in range(50)]

    async def writer(w: int) -> list[tuple[str, int]]:
        out = []
        for i, org in enumerate(plan[w]):
            record = await append(event(w * 100 + i, org))
            out.append((org, record.seq))
        return out

    results = await asyncio.gather(*(writer(w) for w in range(50)))
    acked = [item for result in results for item in result]
    for org in ("acme", "beta"):
        seqs = sorted(seq for o, seq in acked if o == org)
        assert seqs == list(range(1, len(seqs) + 1))
        await _assert_gapless(org, len(seqs))


async def test_writers_on_several_threads_keep_one_chain():
    errors: list[BaseException] = []

    def run_thread(t: int) -> None:
        async def go() -> None:
            try:
                await asyncio.gather(*(append(event(t * 1000 + i)) for i in range(40)))
            finally:
                await close()

        try:
            asyncio.run(go())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run_thread, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    await asyncio.gather(*(append(event(9000 + i)) for i in range(40)))
    for thread in threads:
        await asyncio.to_thread(thread.join)
    assert not errors, errors
    await _assert_gapless("acme", 160)


def _spawn(sb_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    env = {**sb_env, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _wait_ready(proc: subprocess.Popen[str]) -> None:
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")


async def test_four_processes_appending_at_once_keep_one_chain(sb_env, tmp_path):
    go = tmp_path / "go"
    procs = [_spawn(sb_env, "--count", "120", "--concurrency", "6", "--go", str(go)) for _ in range(4)]
    try:
        for proc in procs:
            await _wait_ready(proc)
        go.touch()
        outputs = [await asyncio.to_thread(proc.communicate, None, 240) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip().endswith("done")
    acked = [int(line.split()[2]) for out, _ in outputs for line in out.splitlines() if line.startswith("ack")]
    assert sorted(acked) == list(range(1, 481))
    await _assert_gapless("acme", 480)


async def test_kill_9_mid_append_keeps_every_acknowledged_record(sb_env):
    proc = _spawn(sb_env, "--count", "20000", "--concurrency", "8")
    acks: list[tuple[str, int]] = []
    try:
        await _wait_ready(proc)
        deadline = time.monotonic() + 120
        while len(acks) < 400 and time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line:
                break
            if line.startswith("ack"):
                _, event_id, seq = line.split()
                acks.append((event_id, int(seq)))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = await asyncio.to_thread(proc.communicate, None, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # acks written before the kill but not read yet
        if line.startswith("ack") and len(line.split()) == 3:
            _, event_id, seq = line.split()
            acks.append((event_id, int(seq)))
    assert len(acks) >= 400
    for event_id, seq in acks:
        record = await get_record("acme", seq)
        assert record is not None and record.event_id == event_id
    total = (await sql("SELECT count(*) FROM audit_event"))[0][0]
    assert total >= len(acks)
    await _assert_gapless("acme", total)
    after = await append(event(1))  # the chain goes on where the killed writer left it
    assert after.seq == total + 1 and (await verify_chain("acme")).ok


async def test_postgres_append_after_its_pooled_connection_died_still_commits(audit_db):
    """No ping per batch: a pooled connection killed by the server (a restart, an idle timeout)
    is found dead at the head lock, before anything is written, and the batch runs again."""
    if audit_db.startswith("sqlite"):
        pytest.skip("PostgreSQL only: the appender's pooled connections")
    first = await append(event(1))
    killed = await sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert killed[0][0] >= 1  # the appender's own connection was among them
    second = await append(event(2))  # alone in its batch: no one-by-one retry would rescue it
    assert (first.seq, second.seq) == (1, 2)
    await _assert_gapless("acme", 2)
