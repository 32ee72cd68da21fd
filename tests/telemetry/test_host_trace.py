"""A real host turn over real (in-process) MCP servers: one trace from the turn to the server's tool.

The servers are in-process fastmcp servers reached through the MCP client, so the only way the
server's span can find its parent is the W3C trace context the host put in the request ``_meta``.
Metrics are read with the SDK's in-memory reader and by scraping the host's ``/metrics``.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.host.test_ws import connect, running_host


@pytest.fixture
async def host(captured, database_url):
    """tests/host/test_ws.py's host (real registry pins, in-process servers, uvicorn), built after
    telemetry is on: ``/metrics`` is mounted and the servers' hooks are traced at build time."""
    async with running_host() as (address, _):
        yield address


async def _conversation(address: str) -> str:
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref="cust-1", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await client.send(type="user.message", text="환불 진행 상황을 알고 싶습니다", asr_confidence=0.9)
        await client.until("turn.completed")
        await client.send(type="user.message", text="주문번호는 8841입니다")
        await client.until("turn.completed")
        await client.send(type="user.message", text="네 맞아요")  # the spoken confirmation
        await client.until("turn.completed")
        await client.send(type="user.message", text="상담원 연결해 주세요")
        await client.until("turn.completed")
        await client.send(type="session.end")
        await client.until("session.ended")
    return session_id


async def test_one_trace_runs_from_the_turn_through_the_gateway_into_the_server(host, captured):
    from opentelemetry.trace import SpanKind

    session_id = await _conversation(host)
    spans = captured.spans()
    by_id = {s.context.span_id: s for s in spans}
    server = next(s for s in spans if s.kind == SpanKind.SERVER and s.name == "tools/call get_refund_status")
    client = by_id[server.parent.span_id]  # the server's parent is the host's MCP client span ...
    assert client.kind == SpanKind.CLIENT and client.name == "tools/call get_refund_status"
    gateway = by_id[client.parent.span_id]  # ... inside the gateway's execute_tool span ...
    assert gateway.name == "execute_tool orders__get_refund_status"
    turn = by_id[gateway.parent.span_id]  # ... inside the customer's turn
    assert turn.name == "invoke_agent cs-agent" and turn.parent is None
    assert len({server.context.trace_id, client.context.trace_id, turn.context.trace_id}) == 1

    assert server.attributes["mcp.method.name"] == "tools/call"
    assert server.attributes["gen_ai.tool.name"] == "get_refund_status"
    assert server.attributes["gen_ai.operation.name"] == "execute_tool"
    assert server.attributes["gen_ai.conversation.id"] == session_id
    assert client.attributes["mcp.method.name"] == "tools/call" and "network.transport" in client.attributes
    assert gateway.attributes["gen_ai.tool.call.id"] and gateway.attributes["switchboard.server.name"] == "orders"
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.conversation.id"] == session_id
    assert turn.attributes["switchboard.turn.status"] == "completed"
    chats = [
        s
        for s in spans
        if s.parent is not None and s.parent.span_id == turn.context.span_id and s.name.startswith("chat ")
    ]
    assert chats and all(s.attributes["gen_ai.operation.name"] == "chat" for s in chats)  # the model's steps
    assert chats[0].attributes["gen_ai.provider.name"] == "offline"

    # every turn is its own trace; the escalation turn says so
    turns = [s for s in spans if s.name == "invoke_agent cs-agent"]
    assert len(turns) == 4 and len({t.context.trace_id for t in turns}) == 4
    assert turns[-1].attributes["switchboard.turn.status"] == "escalated"
    # the host's own database work (turn rows) shows up inside the turn's trace
    traces = {t.context.trace_id for t in turns}
    db = [s for s in spans if "db.system.name" in s.attributes and s.context.trace_id in traces]
    assert db and all("db.query.text" not in s.attributes for s in db)


async def test_metrics_count_calls_confirmations_and_escalations(host, captured):
    import httpx2

    await _conversation(host)
    async with httpx2.AsyncClient(base_url=f"http://{host}") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    def samples(family: str, suffix: str = "") -> list:
        return [s for s in families[family].samples if s.name == family + suffix]

    calls = {(s.labels["switchboard_component"], s.labels["gen_ai_tool_name"]): s.value
             for s in samples("switchboard_tool_calls", "_total")}  # fmt: skip
    assert calls[("host", "orders__get_refund_status")] == 1 and calls[("host", "kb__search")] == 1
    assert calls[("server:orders", "get_refund_status")] == 1  # the in-process server counts its side
    confirmations = samples("switchboard_confirmations", "_total")
    assert [(s.labels["switchboard_confirmation_class"], s.value) for s in confirmations] == [("confirm", 1.0)]
    escalations = samples("switchboard_escalations", "_total")
    assert [(s.labels["switchboard_escalation_source"], s.value) for s in escalations] == [("customer", 1.0)]
    turns = samples("switchboard_turn_duration_seconds", "_count")
    assert sum(s.value for s in turns) == 4
    appends = samples("switchboard_audit_append_duration_seconds", "_count")
    assert sum(s.value for s in appends) >= 6  # a call and a result record for each of 3+ calls
    client = samples("mcp_client_operation_duration_seconds", "_count")
    assert sum(s.value for s in client) >= 3
    # the in-memory reader sees the same instruments
    assert sum(p.value for p in captured.points("switchboard.escalations")) == 1
