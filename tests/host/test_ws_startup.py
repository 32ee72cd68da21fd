"""Host start-up and hang-ups (issue 18): servers connected and warmed before the first session,
and one log line (no traceback) when a WebSocket client hangs up mid-turn."""

from __future__ import annotations

import asyncio
import logging

import pytest

from host.app import create_app
from host.runtime import HostRuntime
from tests.host.servers import make_kb_server, make_orders_server, publish_agent
from tests.host.test_ws import connect, serve

ORG = "demo"
TOOLS = ["orders@1.0.0:get_order:confirm", "orders@1.0.0:get_refund_status", "kb@1.0.0:search"]


@pytest.fixture
async def started_host(database_url):
    live = {"orders": make_orders_server(), "kb": make_kb_server(delay=0.8)}  # a turn long enough to hang up in
    await publish_agent(
        ORG,
        {"orders": (live["orders"], "1.0.0", ["switchboard", "serve", "orders"]), "kb": (live["kb"], "1.0.0", ["kb"])},
        TOOLS,
        risks={"orders": {"*": "read"}, "kb": {"*": "read"}},
    )
    runtime = HostRuntime(connector=lambda pin, env: live[pin.name])
    async with serve(create_app(runtime, default_org=ORG)) as address:
        yield address, runtime


async def test_host_connects_and_warms_the_pinned_servers_before_any_session(started_host):
    import httpx2

    address, runtime = started_host
    async with httpx2.AsyncClient(base_url=f"http://{address}") as http:
        for _ in range(200):
            health = await http.get("/healthz")
            if health.status_code == 200:
                break
            assert health.json()["status"] == "starting" and health.json()["ready"] is False
            await asyncio.sleep(0.05)
    body = health.json()
    assert health.status_code == 200 and body["ready"] is True
    # no session was started, yet cs-agent's servers are connected and verified
    assert [a["agent"] for a in body["agents"]] == ["cs-agent@1"]
    assert all(s["state"] == "ready" for s in body["agents"][0]["servers"]), body
    assert runtime.pool.pools()[0].users == 0


async def test_a_client_hanging_up_mid_turn_costs_one_log_line_and_the_turn_is_recorded(started_host, caplog):
    address, runtime = started_host
    caplog.set_level(logging.INFO)
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref="C-1001", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await client.send(type="user.message", text="환불 진행 상황을 알고 싶습니다.")
        await client.until("turn.completed")
        await client.send(type="user.message", text="주문번호는 8841입니다.")
        await client.until("confirmation.requested")
        await client.send(type="confirmation.response", confirmed=True)
        while True:  # hang up while the slow search runs
            started = await client.until("tool.started")
            if started[-1]["exposed_name"] == "kb__search":
                break
    for _ in range(100):
        if any("hung up" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    hung = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert len(hung) == 1 and session_id in hung[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    for _ in range(100):  # the turn completes without the client and is recorded
        detail = await runtime.store.session_detail(session_id)
        if detail["turns"] and detail["turns"][-1].get("status") == "completed":
            break
        await asyncio.sleep(0.05)
    assert detail["turns"][-1]["status"] == "completed", detail["turns"]
    assert "[출처: 환불 정책 v2]" in (detail["turns"][-1].get("answer_text") or ""), detail["turns"][-1]
