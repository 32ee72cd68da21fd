"""Limits shared by every host worker through the database (host/limits.py, host/worker.py).

Both backends: the counters are rows, so two ``Worker`` objects here stand for two processes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.errors import ErrorCode, SwitchboardError
from host import limits
from host.clustertables import host_connection, host_rate_window, host_worker
from host.limits import LimitSettings
from host.worker import Worker

T0 = 1_800_000_000.0  # a window boundary (a multiple of 60)


async def _count(table) -> int:
    from core.db import get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def test_turns_per_minute_hold_across_workers_and_reopen_next_minute(database_url: str) -> None:
    shared = LimitSettings(turns_per_minute=3)
    a, b = Worker(limits=shared), Worker(limits=shared)
    await a.beat()
    await b.beat()
    clock = lambda: T0 + 5  # noqa: E731
    assert await limits.admit_turn("org-a", shared, clock=clock) == 1
    assert await limits.admit_turn("org-a", shared, clock=clock) == 2
    assert await limits.admit_turn("org-a", shared, clock=clock) == 3  # a third worker's turn would be the same row
    with pytest.raises(SwitchboardError) as refused:
        await limits.admit_turn("org-a", shared, clock=clock)
    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.details["retry_after_s"] == 55 and "55 s" in refused.value.message
    assert await limits.admit_turn("org-b", shared, clock=clock) == 1  # another tenant has its own window
    assert await limits.admit_turn("org-a", shared, clock=lambda: T0 + 61) == 1  # the next minute
    # through a worker's admission: a refused turn is refused before any work
    with pytest.raises(SwitchboardError) as via_worker:
        for _ in range(4):
            await b.admit("user.message", "org-c")
    assert via_worker.value.code == ErrorCode.RATE_LIMITED
    await b.admit("session.end", "org-c")  # ending a session is never refused


async def test_concurrent_turns_never_pass_the_limit(database_url: str) -> None:
    shared = LimitSettings(turns_per_minute=5)
    results = await asyncio.gather(
        *(limits.admit_turn("org-a", shared, clock=lambda: T0 + 1) for _ in range(12)), return_exceptions=True
    )
    admitted = sorted(r for r in results if isinstance(r, int))
    refused = [r for r in results if isinstance(r, SwitchboardError) and r.code == ErrorCode.RATE_LIMITED]
    assert admitted == [1, 2, 3, 4, 5] and len(refused) == 7  # the atomic UPSERT numbers every turn once


async def test_no_limit_writes_nothing(database_url: str) -> None:
    none = LimitSettings()
    worker = Worker(limits=none)
    await worker.beat()
    assert await limits.admit_turn("org-a", none) is None
    assert await worker.open_connection("org-a") is None
    assert await _count(host_rate_window) == 0 and await _count(host_connection) == 0


async def test_connection_limits_count_live_workers_only(database_url: str) -> None:
    from core.db import get_engine

    shared = LimitSettings(max_connections=3, max_connections_per_org=2, stale_s=10)
    a, b = Worker(limits=shared), Worker(limits=shared)
    await a.beat()
    await b.beat()
    first = await a.open_connection("org-a")
    second = await b.open_connection("org-a")  # another worker, the same tenant
    with pytest.raises(SwitchboardError) as per_org:
        await a.open_connection("org-a")
    assert per_org.value.code == ErrorCode.RATE_LIMITED and "tenant org-a" in per_org.value.message
    third = await b.open_connection("org-b")
    with pytest.raises(SwitchboardError) as total:
        await a.open_connection("org-c")
    assert "all workers together" in total.value.message
    assert await _count(host_connection) == 3  # the refused ones took their rows back
    await a.close_connection(first)
    assert await a.open_connection("org-c")

    # worker b dies without a word (kill -9): its connections stop counting once its heartbeat is stale
    engine = await get_engine()
    async with engine.begin() as conn:
        stale = limits.utcnow() - timedelta(seconds=30)
        await conn.execute(update(host_worker).where(host_worker.c.worker_id == b.worker_id).values(heartbeat_at=stale))
    assert await a.open_connection("org-a") and await a.open_connection("org-b")
    await limits.sweep(shared)
    async with engine.connect() as conn:
        left = (await conn.execute(select(host_connection.c.worker_id))).scalars().all()
    assert set(left) == {a.worker_id} and second and third


async def test_a_worker_without_its_database_takes_no_turns(database_url: str, monkeypatch) -> None:
    from core.db import dispose_engines
    from core.settings import reload_settings

    worker = Worker(limits=LimitSettings(turns_per_minute=100))
    await worker.beat()
    assert worker.health()["accepting_turns"] is True
    await worker.admit("user.message", "org-a")

    await dispose_engines()
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", "postgresql://sb@127.0.0.1:9/gone")  # nothing listens there
    reload_settings()
    await worker.beat()
    assert worker.health()["accepting_turns"] is True  # one failed probe may be a busy moment
    await worker.beat()
    health = worker.health()
    assert health["accepting_turns"] is False and health["database"].startswith("error: ")
    for kind in ("session.start", "user.message", "confirmation.response"):
        with pytest.raises(SwitchboardError) as refused:
            await worker.admit(kind, "org-a")
        assert refused.value.code == ErrorCode.UNAVAILABLE and "session_id" in refused.value.message
    await worker.admit("session.end", "org-a")

    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", database_url)
    reload_settings()
    await worker.beat()  # the database is back: so is the worker
    assert worker.health()["accepting_turns"] is True
    await worker.stop()


async def _session_row(session_id: str, org_id: str) -> None:
    from core.db import get_engine
    from host.records import sessions

    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(
            sessions.insert().values(
                id=session_id,
                org_id=org_id,
                created_at=limits.utcnow(),
                agent_version_id="av",
                manifest_sha256="m" * 64,
            )
        )


async def test_a_session_has_one_driving_connection(database_url: str) -> None:
    from host import ownership

    worker = Worker()
    await worker.beat()
    await ownership.require_owner("s-1", "conn-a")  # nobody claimed it yet: a new session
    await ownership.claim_new("s-1", worker.worker_id, "conn-a")
    await ownership.require_owner("s-1", "conn-a")
    await ownership.claim_new("s-1", worker.worker_id, "conn-c")  # a first claim never takes one over
    await ownership.require_owner("s-1", "conn-a")
    await _session_row("s-1", "org-b")
    await ownership.claim("s-1", worker.worker_id, "conn-b", org_id="org-b")  # resumed on another connection
    with pytest.raises(SwitchboardError) as moved:
        await ownership.require_owner("s-1", "conn-a")
    assert moved.value.code == ErrorCode.CONFLICT and "session.start" in moved.value.message
    await ownership.wait_until_idle("s-1", worker.worker_id, "conn-a", 10)  # no open turn: no wait
    await ownership.claim("s-1", worker.worker_id, "conn-x", org_id="org-a")  # no such session of org-a
    await ownership.require_owner("s-1", "conn-b")  # ... so the claim stayed where it was


async def test_the_worker_migration_matches_its_tables(database_url: str) -> None:
    from host.clustertables import host_session_owner
    from tests.dbcheck import migration_differences

    ours = {t.name for t in (host_worker, host_connection, host_rate_window, host_session_owner)}
    differences, heads = await migration_differences(ours)
    assert differences == []
    assert "host_0003" in heads


async def test_a_connection_over_the_limit_is_told_why_and_closed(database_url: str) -> None:
    import httpx2
    import uvicorn
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    from host.app import create_app
    from host.runtime import HostRuntime

    worker = Worker(limits=LimitSettings(max_connections_per_org=1))
    app = create_app(HostRuntime(), default_org="org-a", worker=worker)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v1/ws"
        async with ws_connect(url) as first:
            await first.send('{"type": "session.end"}')  # the slot is taken once the socket is open
            await first.recv()
            async with ws_connect(url) as second:
                said = json.loads(await second.recv())
                assert said["type"] == "error" and said["code"] == "RATE_LIMITED"
                assert "tenant org-a" in said["message"]
                with pytest.raises(ConnectionClosed) as closed:
                    await second.recv()
                assert closed.value.rcvd.code == 1013
        for _ in range(100):  # the server notices the close a moment after the client
            if await _count(host_connection) == 0:  # both rows gone: the refused one and the closed one
                break
            await asyncio.sleep(0.05)
        assert await _count(host_connection) == 0
        async with ws_connect(url) as third:  # the slot is free again
            await third.send('{"type": "user.message", "text": "안녕하세요"}')
            assert json.loads(await third.recv())["code"] == "INVALID_ARGUMENT"  # no session yet: not a limit
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = (await http.get("/healthz")).json()
        assert health["worker"]["worker_id"] == worker.worker_id and health["worker"]["accepting_turns"] is True
    finally:
        server.should_exit = True
        await serving
