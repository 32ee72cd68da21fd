"""The host spawns ``switchboard serve orders`` over stdio: the child exports its spans over OTLP
(the host passed its ``OTEL_*`` on) and they join the host's trace through ``_meta``."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from opentelemetry.trace import SpanKind

from core.context import RequestContext
from host.gateway import Gateway
from host.pool import ConnectionPool
from host.tooling import Invocation, TurnBudget
from servers.order_server import __version__ as VERSION
from tests.host.servers import publish_agent
from tests.otlp_collector import otlp_collector

ORG = "demo"
SB = str(Path(sys.executable).with_name("switchboard"))


async def test_a_spawned_stdio_server_continues_the_hosts_trace(database_url, captured, monkeypatch):
    import audit

    async with otlp_collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "switchboard-host")  # the child must not take it
        pinned = await publish_agent(
            ORG, {"orders": (None, VERSION, [SB, "serve", "orders"])}, [f"orders@{VERSION}:get_order"]
        )
        pool = ConnectionPool()
        try:
            gateway = Gateway(await pool.acquire(ORG, "cs-agent"))
            call_id = uuid.uuid4().hex
            context = RequestContext(ORG, "cust-7", str(uuid.uuid4()), pinned.id, pinned.manifest_sha256, call_id)
            outcome = await gateway.call(
                Invocation(call_id, "orders__get_order", {"order_id": "8841"}, context, budget=TurnBudget())
            )
        finally:
            await pool.close()
            await audit.close()
        assert outcome.error_code == "NOT_FOUND"  # an empty shop: the call still reached the server

        host_span = next(s for s in captured.spans() if s.kind == SpanKind.CLIENT and s.name == "tools/call get_order")
        spans = await collector.wait_for(lambda spans: any(s.name == "tools/call get_order" for s in spans))
        server = next(s for s in spans if s.name == "tools/call get_order")
        assert int.from_bytes(server.trace_id, "big") == host_span.context.trace_id
        assert int.from_bytes(server.parent_span_id, "big") == host_span.context.span_id
        assert {"service.name": "switchboard-orders"}.items() <= collector.resources[-1].items()
    gateway_span = next(s for s in captured.spans() if s.name == "execute_tool orders__get_order")
    assert gateway_span.attributes["error.type"] == "NOT_FOUND"
    assert host_span.attributes["network.transport"] == "pipe"
    calls = {tuple(sorted(p.attributes.items())): p.value for p in captured.points("switchboard.tool.calls")}
    key = (("error.type", "NOT_FOUND"), ("gen_ai.tool.name", "orders__get_order"), ("switchboard.component", "host"))
    assert calls == {key: 1}
