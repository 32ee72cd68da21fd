"""The host's cost: the choke point against a bare MCP call, and concurrent WebSocket sessions.

1. Choke point: a tool call through ``Gateway.call`` (allowlist, schema, policy, two audit
   records, events) against a bare fastmcp ``call_tool`` on the same stdio order server, over the
   same connection, interleaved in one run. Goal: at most 1.10x.
2. Sessions: N concurrent WebSocket sessions × 5 turns × 2 parallel tool calls, a zero-latency
   scripted model, the real host app (uvicorn on loopback) and the real order server over stdio.
   Reported: turn latency p50/p95, the host-added time per turn (turn latency minus the time the
   turn spent waiting on the server), errors, and whether every call left its audit pair.
   Goal: p95 added ≤ 50 ms, no errors, every call audited.

``.venv/bin/python bench/host.py [--quick]`` (quick: fewer calls and 20 sessions).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    child_pids,
    median,
    parse_args,
    percentile,
    print_table,
    process_cpu_seconds,
    ratio,
    started_at,
    write_result,
)

ORG = "bench"
CUSTOMER = "C-1001"
ORDER = "8841"
AGENT = "bench-agent"
TOOLS = ("get_order", "get_shipping_status")


# --- setup ---------------------------------------------------------------------------------


async def setup() -> Any:
    """Seed orders, publish and approve the order server, freeze a bench agent with two read tools."""
    from registry.agents import approve_agent_version, create_agent, draft_agent_version
    from registry.demo import ensure_server_version, switchboard_launch
    from registry.specs import ToolSpec
    from servers.order_server.seed import seed

    await seed(ORG)
    info = await ensure_server_version("orders", switchboard_launch("orders"))
    await create_agent(ORG, AGENT, created_by="bench")
    draft = await draft_agent_version(
        ORG,
        AGENT,
        model="offline:scripted",
        system_prompt="bench",
        tools=[ToolSpec("orders", info.version, t, "never", 10_000, 5) for t in TOOLS],
        drafted_by="bench",
    )
    return await approve_agent_version(ORG, AGENT, draft.version, approved_by="bench")


class ScriptedModel:
    """A zero-latency model: two parallel tool calls, then an answer."""

    name = "offline"

    async def complete(self, request: Any, on_delta: Any = None) -> Any:
        from host.providers.base import ModelReply, ToolCallRequest

        if request.messages and request.messages[-1].role == "tool":
            return ModelReply(text="주문 8841은 배송 완료되었습니다.")
        names = [t.name for t in request.tools if not t.host_builtin]
        calls = [ToolCallRequest(f"c{i}_{uuid.uuid4().hex[:6]}", n, {"order_id": ORDER}) for i, n in enumerate(names)]
        return ModelReply(text="", tool_calls=calls)

    async def aclose(self) -> None:
        return None


# --- 1. the choke point --------------------------------------------------------------------


async def choke_point(calls: int) -> dict[str, float]:
    from core.context import RequestContext
    from host.runtime import HostRuntime
    from host.tooling import Invocation, TurnBudget

    runtime = HostRuntime()
    try:
        pool, gateway = await runtime.agent(ORG, AGENT)
        conn = pool.connection("orders")
        exposed = next(t for t in pool.exposed_tools() if t.tool_name == "get_order")
        meta = RequestContext(ORG, CUSTOMER, "bench", pool.pinned.id, pool.pinned.manifest_sha256, "t").to_meta()

        async def bare() -> float:
            t0 = time.perf_counter()
            result = await conn.client.call_tool("get_order", {"order_id": ORDER}, meta=meta)
            assert not result.is_error
            return (time.perf_counter() - t0) * 1000

        async def hosted() -> float:
            call_id = uuid.uuid4().hex
            ctx = RequestContext(ORG, CUSTOMER, "bench", pool.pinned.id, pool.pinned.manifest_sha256, call_id)
            inv = Invocation(call_id, exposed.exposed_name, {"order_id": ORDER}, ctx, budget=TurnBudget())
            t0 = time.perf_counter()
            out = await gateway.call(inv)
            assert out.ok, out.error_message
            return (time.perf_counter() - t0) * 1000

        for _ in range(20):  # warm up both paths (first calls fetch schemas, open the audit appender)
            await bare()
            await hosted()
        bare_ms: list[float] = []
        host_ms: list[float] = []
        for i in range(calls):
            first, second = (bare, hosted) if i % 2 == 0 else (hosted, bare)
            a, b = await first(), await second()
            (bare_ms if first is bare else host_ms).append(a)
            (host_ms if first is bare else bare_ms).append(b)
    finally:
        await runtime.close()
    return {
        "bare_call_p50_ms": median(bare_ms),
        "bare_call_p95_ms": percentile(bare_ms, 95),
        "host_call_p50_ms": median(host_ms),
        "host_call_p95_ms": percentile(host_ms, 95),
        "host_vs_bare_ratio_p50": ratio(median(host_ms), median(bare_ms)),
        "host_vs_bare_ratio_mean": ratio(sum(host_ms) / len(host_ms), sum(bare_ms) / len(bare_ms)),
        "choke_point_calls": float(calls),
    }


# --- 2. concurrent WebSocket sessions ------------------------------------------------------


async def sessions(count: int, turns: int) -> dict[str, float]:
    import uvicorn
    from websockets.asyncio.client import connect

    from host.app import create_app
    from host.connections import ServerConnection
    from host.runtime import HostRuntime

    waits: dict[str, list[tuple[float, float]]] = {}
    original = ServerConnection.call

    async def timed_call(self: Any, tool: str, arguments: dict, *, meta: dict, timeout_s: float) -> Any:
        t0 = time.perf_counter()
        try:
            return await original(self, tool, arguments, meta=meta, timeout_s=timeout_s)
        finally:
            waits.setdefault(meta.get("switchboard/session_id", ""), []).append((t0, time.perf_counter()))

    ServerConnection.call = timed_call  # type: ignore[method-assign]  # bench-only instrumentation
    runtime = HostRuntime(provider_factory=lambda name, model, params: ScriptedModel())
    runtime.settings.stream = False
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, default_org=ORG),
            host="127.0.0.1",
            port=0,
            log_level="error",
            lifespan="on",
            ws_per_message_deflate=False,
        )
    )
    serve_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    turn_ms: list[float] = []
    added_ms: list[float] = []
    errors = 0
    session_ids: list[str] = []

    async def one_session(index: int) -> None:
        nonlocal errors
        async with connect(f"ws://127.0.0.1:{port}/v1/ws", max_size=2**22) as ws:

            async def until(kind: str) -> dict[str, Any]:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if message["type"] == "error":
                        raise RuntimeError(f"{message['code']}: {message['message']}")
                    if message["type"] == kind:
                        return message

            await ws.send(json.dumps({"type": "session.start", "agent": AGENT, "customer_ref": CUSTOMER}))
            started = await until("session.started")
            session_id = started["session_id"]
            session_ids.append(session_id)
            for turn in range(turns):
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "user.message", "text": f"주문 {ORDER} 상태 알려 주세요 ({turn})"}))
                done = await until("turn.completed")
                t1 = time.perf_counter()
                if done["status"] != "completed" or len(done["tool_calls"]) != len(TOOLS):
                    errors += 1
                spans = [(a, b) for a, b in waits.get(session_id, []) if a >= t0 and b <= t1]
                waited = (max(b for _, b in spans) - min(a for a, _ in spans)) if spans else 0.0
                turn_ms.append((t1 - t0) * 1000)
                added_ms.append((t1 - t0 - waited) * 1000)
            await ws.send(json.dumps({"type": "session.end"}))
            await until("session.ended")

    # open the pool once (spawning the server) before the clock starts
    await runtime.agent(ORG, AGENT)
    servers = child_pids()
    server_cpu0 = sum(_cpu(pid) for pid in servers)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(one_session(i) for i in range(count)), return_exceptions=True)
    wall, host_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    server_cpu = sum(_cpu(pid) for pid in servers) - server_cpu0
    failures = [r for r in results if isinstance(r, BaseException)]
    errors += len(failures)
    for failure in failures[:3]:
        print(f"session failed: {failure!r}", file=sys.stderr)
    server.should_exit = True
    await serve_task
    ServerConnection.call = original  # type: ignore[method-assign]
    audited = await audit_pairs(session_ids)
    expected = count * turns * len(TOOLS)
    return {
        "sessions": float(count),
        "turns_per_session": float(turns),
        "turn_p50_ms": median(turn_ms),
        "turn_p95_ms": percentile(turn_ms, 95),
        "added_per_turn_p50_ms": median(added_ms),
        "added_per_turn_p95_ms": percentile(added_ms, 95),
        "errors": float(errors),
        "tool_calls_expected": float(expected),
        "tool_calls_audited_pairs": float(audited),
        "every_call_audited": 1.0 if audited == expected else 0.0,
        "turns_per_second": ratio(len(turn_ms), wall),
        "host_cpu_ms_per_turn": ratio(host_cpu * 1000, len(turn_ms)),
        "server_cpu_ms_per_call": ratio(server_cpu * 1000, expected),
    }


def _cpu(pid: int) -> float:
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return 0.0


async def audit_pairs(session_ids: list[str]) -> int:
    """Calls that left both their ``tool_call`` and ``tool_result`` records."""
    from sqlalchemy import func, select

    from audit.schema import audit_event
    from core.db import get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_event.c.trace_id, func.count())
            .where(
                audit_event.c.org_id == ORG,
                audit_event.c.session_id.in_(session_ids),
                audit_event.c.event_type.in_(["tool_call", "tool_result"]),
                audit_event.c.source == "host",
            )
            .group_by(audit_event.c.trace_id)
        )
        return sum(1 for _, n in rows if n == 2)


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    calls, count, turns = (150, 20, 5) if args.quick else (1000, 100, 5)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with tempfile.TemporaryDirectory(prefix="sb-bench-host-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
        from core.db import dispose_engines
        from core.settings import reload_settings

        reload_settings()
        try:
            await setup()
            metrics = await choke_point(calls)
            metrics.update(await sessions(count, turns))
        finally:
            import audit

            await audit.close()
            await dispose_engines()
    print_table(
        "host: the choke point vs a bare MCP call (same stdio server, interleaved)",
        ["path", "p50 ms", "p95 ms"],
        [
            ("bare fastmcp call_tool", metrics["bare_call_p50_ms"], metrics["bare_call_p95_ms"]),
            ("through the gateway", metrics["host_call_p50_ms"], metrics["host_call_p95_ms"]),
            ("ratio (p50; goal ≤ 1.10)", metrics["host_vs_bare_ratio_p50"], ""),
        ],
    )
    print_table(
        f"host: {count} WebSocket sessions × {turns} turns × 2 tool calls (zero-latency model)",
        ["metric", "value"],
        [
            ("turn latency p50 ms", metrics["turn_p50_ms"]),
            ("turn latency p95 ms", metrics["turn_p95_ms"]),
            ("added per turn p50 ms", metrics["added_per_turn_p50_ms"]),
            ("added per turn p95 ms (goal ≤ 50)", metrics["added_per_turn_p95_ms"]),
            ("errors (goal 0)", metrics["errors"]),
            (
                "calls with an audit pair / calls",
                f"{metrics['tool_calls_audited_pairs']:.0f} / {metrics['tool_calls_expected']:.0f}",
            ),
            ("turns per second", metrics["turns_per_second"]),
            ("host CPU ms per turn", metrics["host_cpu_ms_per_turn"]),
            ("order server CPU ms per call", metrics["server_cpu_ms_per_call"]),
        ],
    )
    path = write_result("host", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
