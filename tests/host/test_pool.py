"""Connections: shared per agent version, serverInfo checked, one bad server isolated, HTTP with a token."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.context import RequestContext
from host.gateway import Gateway
from host.pool import ConnectionPool
from host.runtime import HostRuntime
from host.tooling import Invocation, TurnBudget
from tests.host.servers import make_kb_server, make_orders_server, publish_agent

TOOLS = ["orders@1.0.0:get_order", "kb@1.0.0:search"]
RISKS = {"orders": {"*": "read", "request_refund": "write"}, "kb": {"*": "read"}}


@pytest.fixture(autouse=True)
async def _close_audit(database_url):
    yield
    import audit

    await audit.close()


def _invocation(pinned, name: str, args: dict) -> Invocation:
    call_id = uuid.uuid4().hex
    ctx = RequestContext("demo", "c1", "s1", pinned.id, pinned.manifest_sha256, call_id)
    return Invocation(call_id, name, args, ctx, budget=TurnBudget())


async def _publish(orders=None, kb=None):
    return await publish_agent(
        "demo",
        {
            "orders": (orders or make_orders_server(), "1.0.0", ["switchboard", "serve", "orders"]),
            "kb": (kb or make_kb_server(), "1.0.0", ["switchboard", "serve", "kb"]),
        },
        TOOLS,
        risks=RISKS,
    )


async def test_sessions_of_one_agent_version_share_the_connections():
    await _publish()
    live = {"orders": make_orders_server(), "kb": make_kb_server()}
    connects: list[str] = []

    def connector(pin, env):
        connects.append(pin.name)
        assert env["SWITCHBOARD_ORG"] == "demo" and env["SWITCHBOARD_TRUST_META"] == "true"
        assert "SWITCHBOARD_CUSTOMER" not in env
        return live[pin.name]

    runtime = HostRuntime(connector=connector)
    try:
        first = await runtime.start_session("demo", "cs-agent", customer_ref="a")
        second = await runtime.start_session("demo", "cs-agent@1", customer_ref="b")
        assert first.layer is second.layer
        assert sorted(connects) == ["kb", "orders"]
        assert first.session_id != second.session_id
    finally:
        await runtime.close()


async def test_a_server_with_the_wrong_identity_is_refused():
    pinned = await _publish()
    live = {"orders": make_orders_server(version="1.0.1"), "kb": make_kb_server()}
    pool = ConnectionPool(connector=lambda pin, env: live[pin.name])
    try:
        agent = await pool.acquire("demo", "cs-agent")
        orders = agent.tool("orders__get_order")
        assert not orders.enabled and "did not identify as published" in orders.disabled_reason
        assert agent.tool("kb__search").enabled
        out = await Gateway(agent).call(_invocation(pinned, "orders__get_order", {"order_id": "8841"}))
        assert out.error_code == "UNAVAILABLE"
    finally:
        await pool.close()


async def test_one_failing_server_does_not_take_the_others_down():
    pinned = await _publish()
    live = {"kb": make_kb_server()}

    def connector(pin, env):
        if pin.name == "orders":
            raise ConnectionRefusedError("no such server")
        return live[pin.name]

    pool = ConnectionPool(connector=connector)
    try:
        agent = await pool.acquire("demo", "cs-agent")
        gateway = Gateway(agent)
        kb = await gateway.call(_invocation(pinned, "kb__search", {"query": "환불"}))
        assert kb.ok, kb.error_message
        orders = await asyncio.wait_for(
            gateway.call(_invocation(pinned, "orders__get_order", {"order_id": "8841"})), timeout=20
        )
        assert orders.error_code == "UNAVAILABLE" and "unavailable" in orders.error_message
        status = {s["server"]: s["state"] for s in agent.status().servers}
        assert status == {"orders": "dead", "kb": "ready"}
    finally:
        await pool.close()


async def test_streamable_http_with_a_bearer_token(monkeypatch):
    import uvicorn

    from host.connections import ServerConnection, ServerPin
    from servers.kit.tokens import create_token

    token, _ = await create_token(None, label="host", trusted=True)
    http_app = make_orders_server(http_auth=True).http_app(path="/mcp")
    uv = uvicorn.Server(uvicorn.Config(http_app, host="127.0.0.1", port=0, log_level="error", lifespan="on"))
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    monkeypatch.setenv("SB_TEST_ORDERS_TOKEN", token)
    pin = ServerPin(
        "orders",
        "1.0.0",
        "x",
        {"transport": "http", "url": f"http://127.0.0.1:{port}/mcp", "token_ref": "SB_TEST_ORDERS_TOKEN"},
    )
    conn = ServerConnection(pin, org_id="demo")
    try:
        assert await conn.ensure_ready(20), conn.error
        assert "get_order" in conn.live_hashes
        meta = RequestContext("demo", "c9", "s9", "av", "m" * 64, "t1").to_meta()
        result = await conn.call("get_order", {"order_id": "8841"}, meta=meta, timeout_s=10)
        assert result.structured_content["org_id"] == "demo"
        assert result.structured_content["customer_ref"] == "c9"
        monkeypatch.delenv("SB_TEST_ORDERS_TOKEN")
        missing = ServerConnection(pin, org_id="demo")
        assert not await missing.ensure_ready(5)
        assert "SB_TEST_ORDERS_TOKEN" in (missing.error or "")
    finally:
        await conn.close()
        uv.should_exit = True
        await asyncio.wait_for(task, 10)
