"""The WebSocket app end to end: uvicorn on loopback, a real WebSocket client, real MCP servers in-process."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import pytest

from host.app import create_app
from host.runtime import HostRuntime
from tests.host.servers import make_kb_server, make_orders_server, publish_agent

ORG = "demo"
TOOLS = [
    "orders@1.0.0:get_order:confirm",
    "orders@1.0.0:get_refund_status",
    "orders@1.0.0:request_refund:confirm",
    "kb@1.0.0:search",
]
RISKS = {"orders": {"*": "read", "request_refund": "write"}, "kb": {"*": "read"}}


@asynccontextmanager
async def serve(app, graceful_s: float | None = None):
    """``app`` on a free loopback port; ``graceful_s`` bounds the shutdown (open event streams)."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=graceful_s
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def host(database_url):
    async with running_host() as running:
        yield running


@asynccontextmanager
async def running_host(*, require_token: bool = False):
    """A host on loopback over in-process servers pinned through the real registry: (address, calls)."""
    calls: list = []
    live = {"orders": make_orders_server(calls=calls), "kb": make_kb_server()}
    await publish_agent(
        ORG,
        {"orders": (live["orders"], "1.0.0", ["switchboard", "serve", "orders"]), "kb": (live["kb"], "1.0.0", ["kb"])},
        TOOLS,
        risks=RISKS,
    )
    runtime = HostRuntime(connector=lambda pin, env: live[pin.name])
    async with serve(create_app(runtime, default_org=ORG, require_token=require_token)) as address:
        yield address, calls


class Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.received: list[dict] = []

    async def send(self, **message) -> None:
        await self.ws.send(json.dumps(message, ensure_ascii=False))

    async def until(self, kind: str, timeout: float = 30) -> list[dict]:
        """Messages up to and including the next one of type ``kind``."""
        batch = []
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            self.received.append(message)
            batch.append(message)
            if message["type"] == kind:
                return batch


@asynccontextmanager
async def connect(address: str, **headers):
    from websockets.asyncio.client import connect as ws_connect

    async with ws_connect(f"ws://{address}/v1/ws", additional_headers=headers or None) as ws:
        yield Client(ws)


async def test_websocket_conversation_end_to_end(host):
    import httpx2

    address, calls = host
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref="cust-1", language="ko")
        started = (await client.until("session.started"))[-1]
        session_id = started["session_id"]
        assert session_id and started["agent"] == "cs-agent@1"
        await client.send(type="user.message", text="환불 진행 상황을 알고 싶습니다.", asr_confidence=0.9)
        await client.until("turn.completed")
        await client.send(type="user.message", text="주문번호는 8841입니다.", asr_confidence=0.94)
        asked = await client.until("turn.completed")
        prompt = next(m for m in asked if m["type"] == "confirmation.requested")
        assert prompt["prompt"] == "주문번호 8841로 조회해도 될까요?" and calls == []
        await client.send(type="confirmation.response", confirmed=True)
        answered = await client.until("turn.completed")
        kinds = [m["type"] for m in answered]
        assert kinds.count("tool.started") == 3 and kinds.count("tool.completed") == 3
        assert "assistant.delta" in kinds
        message = next(m for m in answered if m["type"] == "assistant.message")
        assert "2026-11-24" in message["text"] and "[출처: 환불 정책 v2]" in message["text"]
        assert message["kb_references"][0]["version"] == 2
        await client.send(type="user.message", text="상담원 연결해 주세요")
        escalated = await client.until("turn.completed")
        assert any(m["type"] == "escalated" for m in escalated)
        await client.send(type="session.end")
        ended = (await client.until("session.ended"))[-1]
        assert ended["outcome"] == "이관"
        seqs = [m["seq"] for m in client.received]
        assert seqs == list(range(1, len(seqs) + 1))
        assert all(m["session_id"] == session_id for m in client.received)

    async with httpx2.AsyncClient(base_url=f"http://{address}") as http:
        detail = (await http.get(f"/v1/sessions/{session_id}")).json()
        assert [t["seq"] for t in detail["turns"]] == [1, 2, 3, 4]
        assert detail["versions"]["manifest_sha256"] == started["manifest_sha256"]
        called = {c["exposed_name"] for c in detail["tool_calls"]}
        assert called == {"orders__get_order", "orders__get_refund_status", "kb__search"}
        assert all(c["definition_sha256"] for c in detail["tool_calls"])
        listing = (await http.get("/v1/customers/cust-1/sessions")).json()
        assert [s["id"] for s in listing["sessions"]] == [session_id]
        health = (await http.get("/healthz")).json()
        assert health["status"] == "ok" and health["agents"][0]["servers"]
        missing = await http.get("/v1/sessions/nope")
        assert missing.status_code == 404


async def test_websocket_rejects_bad_messages_and_keeps_going(host):
    address, _ = host
    async with connect(address) as client:
        await client.ws.send("not json")
        assert (await client.until("error"))[-1]["code"] == "INVALID_ARGUMENT"
        await client.send(type="user.message", text="hi")
        err = (await client.until("error"))[-1]
        assert err["session_id"] is None and "start a session" in err["message"]
        await client.send(type="nonsense")
        await client.until("error")
        await client.send(type="session.start", agent="no-such-agent")
        assert (await client.until("error"))[-1]["code"] == "NOT_FOUND"
        await client.send(type="session.start", agent="cs-agent", customer_ref="bad ref!")
        assert (await client.until("error"))[-1]["code"] == "INVALID_ARGUMENT"
        await client.send(type="session.start", agent="cs-agent")
        await client.until("session.started")
        await client.send(type="user.message", text="")
        assert (await client.until("error"))[-1]["code"] == "INVALID_ARGUMENT"
        await client.send(type="confirmation.response", confirmed=True)
        assert (await client.until("error"))[-1]["code"] == "CONFLICT"
        await client.send(type="user.message", text="안녕하세요")
        done = await client.until("turn.completed")
        assert done[-1]["answer"]


async def test_websocket_with_token_uses_the_tokens_tenant(database_url):
    from servers.kit.tokens import create_token

    runtime = HostRuntime()
    plaintext, _ = await create_token("other-org", label="ws")
    async with serve(create_app(runtime, require_token=True)) as address:
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus):
            async with connect(address) as client:
                await client.send(type="session.start", agent="cs-agent")
        async with connect(address, Authorization=f"Bearer {plaintext}") as client:
            await client.send(type="session.start", agent="cs-agent", org="demo")
            err = (await client.until("error"))[-1]
            assert err["code"] == "NOT_FOUND" and "other-org" in err["message"]
