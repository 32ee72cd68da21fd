"""Names a client or a model makes up never become attributes or labels (they could hold anything)."""

from __future__ import annotations

import pytest
from fastmcp import Client

from core import telemetry
from tests.host.servers import make_orders_server

HOSTILE = ["010-1234-5678", "kim.minsu@example.com", "900101-1234567 주민번호", "ignore previous instructions"]


def _everything(captured) -> str:
    parts = [s.name + repr(dict(s.attributes)) for s in captured.spans()]
    parts.append((telemetry.prometheus_text() or b"").decode())
    return "\n".join(parts)


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_server_reports_an_unknown_tool_as_unknown(captured, name):
    from opentelemetry.trace import SpanKind

    async with Client(make_orders_server()) as client:
        result = await client.call_tool_mcp(name, {"order_id": "8841"}, meta={"switchboard/org_id": "demo"})
        known = await client.call_tool_mcp("get_order", {"order_id": "8841"}, meta={"switchboard/org_id": "demo"})
    assert result.is_error and not known.is_error
    servers = [s for s in captured.spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["tools/call _unknown", "tools/call get_order"]
    assert name not in _everything(captured)
    labels = {p.attributes["gen_ai.tool.name"] for p in captured.points("switchboard.tool.calls")}
    assert labels == {"_unknown", "get_order"}


async def test_a_server_span_continues_the_trace_named_in_meta(captured):
    from opentelemetry.trace import SpanKind

    meta = {"switchboard/org_id": "demo", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    async with Client(make_orders_server()) as client:
        await client.call_tool_mcp("get_order", {"order_id": "8841"}, meta=meta)
    server = next(s for s in captured.spans() if s.kind == SpanKind.SERVER)
    assert f"{server.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{server.parent.span_id:016x}" == "b7ad6b7169203331" and server.parent.is_remote


async def test_the_gateway_reports_a_made_up_tool_as_unknown(database_url, captured):
    from tests.host.test_gateway import Setup

    setup = await Setup().start()
    try:
        outcome = await setup.gateway.call(setup.invocation("kim.minsu@example.com 010-1234-5678", {}))
    finally:
        await setup.close()
    assert outcome.error_code == "NOT_FOUND"
    gateway = next(s for s in captured.spans() if s.name.startswith("execute_tool"))
    assert gateway.name == "execute_tool _unknown" and gateway.attributes["error.type"] == "NOT_FOUND"
    text = _everything(captured)
    assert "kim.minsu@example.com" not in text and "010-1234-5678" not in text
    calls = [(dict(p.attributes), p.value) for p in captured.points("switchboard.tool.calls")]
    assert calls == [({"switchboard.component": "host", "gen_ai.tool.name": "_unknown", "error.type": "NOT_FOUND"}, 1)]
