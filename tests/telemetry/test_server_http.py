"""A real ``switchboard serve orders --transport http`` process: spans over OTLP, ``/metrics`` scraped.

The caller's trace context travels only in the request ``_meta`` (the test process has no
tracing of its own), and the server's spans reach a loopback OTLP/HTTP collector as protobuf.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.otlp_collector import otlp_collector

SB = str(Path(sys.executable).with_name("switchboard"))
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [SB, "serve", "orders", "--transport", "http", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = await asyncio.wait_for(asyncio.to_thread(proc.stderr.readline), 60)
    match = re.search(r"(http://127\.0\.0\.1:\d+)/mcp", line)
    assert match, f"serve --transport http did not print its URL: {line!r}"
    await _wait_listening(match.group(1))
    return proc, match.group(1)


async def _wait_listening(base: str, timeout: float = 60) -> None:
    """The URL is printed before the socket listens: wait until it answers."""
    import httpx2

    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx2.AsyncClient() as http:
        while True:
            try:
                await http.get(f"{base}/metrics", timeout=2)
                return
            except httpx2.HTTPError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)


@pytest.fixture
async def served(database_url):
    from servers.kit.tokens import create_token

    token, _ = await create_token("demo", label="telemetry test")
    async with otlp_collector() as collector:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            {
                "SWITCHBOARD_METRICS": "1",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_BSP_SCHEDULE_DELAY": "50",
                "OTEL_METRIC_EXPORT_INTERVAL": "500",
            }
        )
        proc, base = await _start_server(env)
        try:
            yield base, token, collector
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 15)


async def _call(base: str, token: str, tool: str, arguments: dict, meta: dict) -> object:
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    async with Client(StreamableHttpTransport(f"{base}/mcp", auth=token)) as client:
        return await client.call_tool_mcp(tool, arguments, meta=meta)


async def test_server_spans_continue_the_callers_trace_and_reach_the_collector(served):
    base, token, collector = served
    meta = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "sb=1"}
    result = await _call(base, token, "get_order", {"order_id": "8841"}, meta)
    assert result.is_error  # org demo has no orders in this database: NOT_FOUND

    def done(spans: list) -> bool:
        return any(s.name == "tools/call get_order" for s in spans)

    spans = await collector.wait_for(done)
    server = next(s for s in spans if s.name == "tools/call get_order")
    assert server.trace_id.hex() == TRACE_ID and server.parent_span_id.hex() == PARENT_ID
    attrs = {a.key: a.value for a in server.attributes}
    assert attrs["mcp.method.name"].string_value == "tools/call"
    assert attrs["gen_ai.tool.name"].string_value == "get_order"
    assert attrs["error.type"].string_value == "NOT_FOUND"
    assert {"service.name": "switchboard-orders"}.items() <= collector.resources[0].items()
    # the call's audit record (fail closed: the answer waits for its commit) is inside the server span
    children = {s.name: s for s in collector.spans if s.parent_span_id == server.span_id}
    assert {"audit ready", "audit append"} <= set(children)
    assert all(s.trace_id.hex() == TRACE_ID for s in children.values())


async def test_metrics_endpoint_counts_calls_and_errors_by_code(served):
    import httpx2

    base, token, collector = served
    await _call(base, token, "get_order", {"order_id": "8841"}, {})
    await _call(base, token, "get_order", {"order_id": "8842"}, {})
    await _call(base, token, "get_shipping_status", {"order_id": "8841"}, {})
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{base}/metrics")  # no token: Prometheus scrapes it as is
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    calls = {(s.labels["gen_ai_tool_name"], s.labels.get("error_type")): s.value
             for s in families["switchboard_tool_calls"].samples}  # fmt: skip
    assert calls == {("get_order", "NOT_FOUND"): 2.0, ("get_shipping_status", "NOT_FOUND"): 1.0}
    latency = [s for s in families["mcp_server_operation_duration_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in latency) == 3
    assert all(s.labels["mcp_method_name"] == "tools/call" for s in latency)
    # no trace context in _meta: each call starts a trace of its own
    spans = await collector.wait_for(lambda spans: sum(s.name.startswith("tools/call") for s in spans) == 3)
    roots = [s for s in spans if s.name.startswith("tools/call")]
    assert all(s.parent_span_id == b"" for s in roots) and len({s.trace_id for s in roots}) == 3
