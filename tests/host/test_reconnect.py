"""A real stdio server killed mid-turn: reads reconnect and retry, writes are never repeated."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from core.context import RequestContext
from host.gateway import Gateway
from host.pool import ConnectionPool
from host.tooling import ConfirmationGrant, Invocation, TurnBudget
from tests.host.servers import publish_agent

SCRIPT = str(Path(__file__).with_name("stdio_orders.py"))
TOOLS = ["orders@1.0.0:slow:8000", "orders@1.0.0:pid", "orders@1.0.0:request_refund:confirm:8000"]
RISKS = {"orders": {"*": "read", "request_refund": "write"}}


def _invocation(pinned, name: str, args: dict, **kwargs) -> Invocation:
    call_id = uuid.uuid4().hex
    ctx = RequestContext("demo", "c1", "s1", pinned.id, pinned.manifest_sha256, call_id)
    return Invocation(call_id, name, args, ctx, budget=TurnBudget(), **kwargs)


async def _kill_server(gateway: Gateway, pinned) -> int:
    out = await gateway.call(_invocation(pinned, "orders__pid", {}))
    assert out.ok, out.error_message
    pid = int(out.data["text"])
    os.kill(pid, signal.SIGKILL)
    return pid


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stdio_gateway(module_database_url):
    pinned = await publish_agent("demo", {"orders": (None, "1.0.0", [sys.executable, SCRIPT])}, TOOLS, risks=RISKS)
    pool = ConnectionPool()
    agent_pool = await pool.acquire("demo", "cs-agent")
    assert all(t.enabled for t in agent_pool.exposed_tools()), agent_pool.status()
    yield Gateway(agent_pool), pinned, agent_pool
    await pool.close()
    import audit

    await audit.close()


async def test_server_killed_mid_read_reconnects_and_retries(stdio_gateway):
    gateway, pinned, agent_pool = stdio_gateway
    call = asyncio.create_task(gateway.call(_invocation(pinned, "orders__slow", {"seconds": 1.5})))
    await asyncio.sleep(0.3)
    old_pid = await _kill_server(gateway, pinned)
    out = await asyncio.wait_for(call, timeout=30)
    assert out.ok, out.error_message  # the read was retried on a fresh, re-verified connection
    again = await gateway.call(_invocation(pinned, "orders__pid", {}))
    assert again.ok and int(again.data["text"]) != old_pid
    assert agent_pool.connection("orders").generation == 2


async def test_server_killed_mid_write_is_recorded_not_repeated(stdio_gateway):
    from audit.store import tail

    gateway, pinned, _ = stdio_gateway
    await _kill_server(gateway, pinned)
    args = {"order_id": "8841", "reason": "단순 변심"}
    grant = ConfirmationGrant.for_call("orders__request_refund", args)
    inv = _invocation(pinned, "orders__request_refund", args, confirmation=grant)
    out = await asyncio.wait_for(gateway.call(inv), timeout=30)
    # the dead connection is noticed on the write: it fails once and is not repeated
    assert not out.ok and out.error_code == "UNAVAILABLE"
    records = [r for r in await tail("demo", limit=50) if r.trace_id == inv.call_id]
    assert [r.event_type for r in records] == ["tool_call", "tool_result"]
    assert records[1].is_error
