"""A tool call that arrives during the start-up jobs waits for them (servers/kit/warm.py `settle`).

Seen on a slow start (the order server under callgrind): the data-layer job, importing SQLAlchemy
in a worker thread, died with "cannot import name 'AdaptedConnection' from partially initialized
module 'sqlalchemy.engine'" because the first call's audit hook imported SQLAlchemy on the event
loop's thread at the same moment. Two threads importing overlapping modules can fail either way,
so the first call now waits for the jobs; the calls after it never wait again.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from servers.kit import ServerLaunch, build_server, warm


def _server(seen: list[str]):
    mcp = build_server("settle", "1.0.0", instructions="test", launch=ServerLaunch(org_id="demo"), hooks=[])

    @mcp.tool
    async def probe(label: str) -> dict:
        """Record what the start-up jobs had done when the call ran."""
        seen.append(label)
        return {"label": label}

    return mcp


def _slow_import(done: list[str], name: str, seconds: float):
    async def job() -> None:
        def work() -> None:  # stands for importing the data layer in a worker thread
            time.sleep(seconds)
            done.append(name)

        await asyncio.to_thread(work)

    return job


async def test_the_first_call_waits_for_the_start_up_jobs_and_later_calls_do_not(monkeypatch):
    from fastmcp import Client

    monkeypatch.setattr(warm, "GRACE_S", 30.0)  # the client never lists tools: only the call starts the job
    done: list[str] = []
    seen: list[str] = []
    server = _server(seen)
    async with Client(server) as client:
        warm.after_handshake("data-layer", _slow_import(done, "data-layer", 0.3))
        started = time.monotonic()
        result = await client.call_tool("probe", {"label": "first"})
        assert result.structured_content == {"label": "first"}
        assert done == ["data-layer"], "the first call ran while the start-up job was still importing"
        assert time.monotonic() - started >= 0.25

        warm.after_handshake("late", _slow_import(done, "late", 1.0))  # a job started later
        started = time.monotonic()
        await client.call_tool("probe", {"label": "second"})
        assert time.monotonic() - started < 0.9, "a later call waited for a start-up job"
        assert "late" not in done
    assert seen == ["first", "second"]


async def test_a_job_that_outlasts_the_wait_no_longer_holds_calls(monkeypatch):
    from fastmcp import Client

    monkeypatch.setattr(warm, "WAIT_S", 0.2)
    release = threading.Event()
    seen: list[str] = []
    server = _server(seen)

    async def stuck() -> None:
        await asyncio.to_thread(release.wait, 10)

    async with Client(server) as client:
        job = warm.after_handshake("stuck", stuck)
        try:
            await client.call_tool("probe", {"label": "first"})  # waits 0.2 s, then goes on
            started = time.monotonic()
            await client.call_tool("probe", {"label": "second"})
            assert time.monotonic() - started < 0.15
            assert not job.done()
        finally:
            release.set()
            await job
    assert seen == ["first", "second"]


def test_without_a_running_loop_nothing_is_unsettled():
    assert warm.unsettled() is False


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AUDIT", "off")
