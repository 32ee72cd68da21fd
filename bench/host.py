"""The host's cost: the choke point against a bare MCP call, and concurrent WebSocket sessions.

1. Choke point: a tool call through ``Gateway.call`` (allowlist, schema, policy, two audit
   records, events) against a bare fastmcp ``call_tool`` on the same stdio order server, over the
   same connection, interleaved in one run (the order rotates). Goal: at most 1.10x (p50). Two
   gateway rows: as the engine calls it (the ``tool_call`` record committed before the call is
   sent; the ``tool_result`` record appended off the call's path and settled before the turn
   completes: here right after each call, outside the timed span), and with both records
   committed before the call returns. Every gateway call's audit pair is checked afterwards.
2. Sessions: N WebSocket sessions × 5 turns × 2 parallel tool calls, a zero-latency scripted
   model, the real host app (uvicorn on loopback) and the real order server over stdio. The
   customers run in a separate process (this file with ``--ws-clients``), so the host's CPU is
   the host's alone. Two scenarios, one after the other on the same warm host:

   - ``paced`` (the goal): each session starts at a random offset within the ramp (5 s; quick
     2 s) and waits a think time of 1–3 s (uniform) between receiving ``turn.completed`` and
     sending its next message, as customers speak and think between turns (seeded, seed 7).
   - ``burst`` (a stress figure): every session starts at once and sends each next message
     the moment the previous turn completes: all turns queue on the host together.

   Per turn: *turn latency* is measured by the customer, from sending ``user.message`` to
   receiving ``turn.completed``. *Added per turn* is the turn latency minus the time the turn
   spent waiting on the tool server and on the model: the union of the spans of its
   ``ServerConnection.call`` (the MCP client library's own work in it included; the choke point
   above measures that part) and ``Provider.complete`` calls, measured in the host. What is left
   is the host's own work and its queueing (WebSocket I/O, engine, gateway checks, audit
   appends, record writes). Reported per scenario: turn latency and added p50/p95, errors,
   calls with both audit records (``tool_call`` and ``tool_result``), host CPU ms per turn
   (session start and end included), turns per second, order-server CPU per call, and the
   box's 1-minute load average when the scenario ended (other work on a shared box shows up
   in every latency). Goal (paced): p95 added ≤ 50 ms, no errors, every call audited.

``.venv/bin/python bench/host.py [--quick]`` (quick: 150 interleaved calls and 20 sessions).

3. ``--workers 1,2`` (instead of 1 and 2): real ``switchboard host`` worker processes behind
   HAProxy on PostgreSQL, the order server over Streamable HTTP behind it too; paced and burst
   load through the balancer with each worker count, side by side (bench/_workers.py;
   ``bench/results/host_workers.json``).
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
    """Bare ``call_tool`` against the gateway, interleaved on one connection, rotating the order.

    Two gateway paths: as the engine uses it (the ``tool_result`` record is appended off the
    call's path and settled before the turn completes; here right after each call, outside the
    timed span) and with both records written before the call returns (``sync``).
    """
    from core.context import RequestContext
    from host.runtime import HostRuntime
    from host.store import new_call_id
    from host.tooling import Invocation, TurnBudget, settle_records

    runtime = HostRuntime()
    call_ids: list[str] = []
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

        async def through_gateway(deferred: list[Any] | None) -> float:
            call_id = new_call_id()
            ctx = RequestContext(ORG, CUSTOMER, "bench", pool.pinned.id, pool.pinned.manifest_sha256, call_id)
            inv = Invocation(
                call_id, exposed.exposed_name, {"order_id": ORDER}, ctx, budget=TurnBudget(), deferred=deferred
            )
            t0 = time.perf_counter()
            out = await gateway.call(inv)
            elapsed = (time.perf_counter() - t0) * 1000
            assert out.ok, out.error_message
            assert not await settle_records(deferred or [])
            call_ids.append(call_id)
            return elapsed

        async def hosted() -> float:
            return await through_gateway([])

        async def hosted_sync() -> float:
            return await through_gateway(None)

        paths = {bare: [], hosted: [], hosted_sync: []}  # type: ignore[var-annotated]
        order = list(paths)
        for _ in range(20):  # warm up every path (first calls compile schemas, open the audit appender)
            for path in order:
                await path()
        call_ids.clear()
        for i in range(calls):
            for path in order[i % 3 :] + order[: i % 3]:
                paths[path].append(await path())
        bare_ms, host_ms, sync_ms = paths[bare], paths[hosted], paths[hosted_sync]
    finally:
        await runtime.close()
    audited = await audit_pairs(trace_ids=call_ids)
    return {
        "bare_call_p50_ms": median(bare_ms),
        "bare_call_p95_ms": percentile(bare_ms, 95),
        "host_call_p50_ms": median(host_ms),
        "host_call_p95_ms": percentile(host_ms, 95),
        "host_vs_bare_ratio_p50": ratio(median(host_ms), median(bare_ms)),
        "host_vs_bare_ratio_mean": ratio(sum(host_ms) / len(host_ms), sum(bare_ms) / len(bare_ms)),
        "host_sync_call_p50_ms": median(sync_ms),
        "host_sync_call_p95_ms": percentile(sync_ms, 95),
        "host_sync_vs_bare_ratio_p50": ratio(median(sync_ms), median(bare_ms)),
        "choke_point_calls": float(calls),
        "choke_point_calls_audited_pairs": float(audited),
    }


# --- 2. WebSocket sessions -----------------------------------------------------------------

SEED = 7
THINK_S = (1.0, 3.0)
SCENARIOS = ("paced", "burst")


class Pacing:
    """When each session starts and how long its customer thinks between turns (seeded)."""

    def __init__(self, scenario: str, ramp_s: float, seed: int = SEED) -> None:
        import random

        self.scenario = scenario
        self.ramp_s = ramp_s
        self._rng = random.Random(seed)

    def start_offset(self) -> float:
        return self._rng.uniform(0.0, self.ramp_s) if self.scenario == "paced" else 0.0

    def think(self) -> float:
        return self._rng.uniform(*THINK_S) if self.scenario == "paced" else 0.0


async def run_clients(
    port: int, count: int, turns: int, scenario: str, ramp_s: float, calls: int | None = len(TOOLS)
) -> dict[str, Any]:
    """The customers: ``count`` sessions × ``turns`` turns; per turn (session, sent, completed, ok).

    A turn is ok when it completed with ``calls`` successful tool calls (None: at least one, all ok).
    """
    from websockets.asyncio.client import connect

    pacing = Pacing(scenario, ramp_s)
    plans = [(pacing.start_offset(), [pacing.think() for _ in range(turns - 1)]) for _ in range(count)]
    records: list[list[Any]] = []
    failures: list[str] = []

    async def one_session(offset: float, thinks: list[float]) -> None:
        await asyncio.sleep(offset)
        async with connect(f"ws://127.0.0.1:{port}/v1/ws", max_size=2**22, compression=None) as ws:

            async def until(kind: str) -> dict[str, Any]:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if message["type"] == "error":
                        raise RuntimeError(f"{message['code']}: {message['message']}")
                    if message["type"] == kind:
                        return message

            await ws.send(json.dumps({"type": "session.start", "agent": AGENT, "customer_ref": CUSTOMER}))
            session_id = (await until("session.started"))["session_id"]
            for turn in range(turns):
                if turn:
                    await asyncio.sleep(thinks[turn - 1])
                text = f"주문 {ORDER} 상태 알려 주세요 ({turn})"
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "user.message", "text": text}))
                done = await until("turn.completed")
                t1 = time.perf_counter()
                made = [c["ok"] for c in done["tool_calls"]]
                ok = done["status"] == "completed" and all(made) and len(made) == (calls or len(made) or 1)
                records.append([session_id, t0, t1, ok])
            await ws.send(json.dumps({"type": "session.end"}))
            await until("session.ended")

    results = await asyncio.gather(*(one_session(o, t) for o, t in plans), return_exceptions=True)
    failures = [repr(r)[:300] for r in results if isinstance(r, BaseException)]
    return {"turns": records, "failures": failures}


def clients_main(spec: str) -> None:
    """``bench/host.py --ws-clients '<json>'``: the customer process; prints its records as JSON."""
    args = json.loads(spec)
    out = asyncio.run(
        run_clients(
            args["port"], args["count"], args["turns"], args["scenario"], args["ramp_s"], args.get("calls", len(TOOLS))
        )
    )
    sys.stdout.write(json.dumps(out))


class Spans:
    """Bench-only instrumentation: per session, the spans spent in the tool server and the model."""

    def __init__(self) -> None:
        import contextvars

        self.by_session: dict[str, list[tuple[float, float]]] = {}
        self.session: contextvars.ContextVar[str] = contextvars.ContextVar("bench_session", default="")
        self._undo: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        from host.connections import ServerConnection
        from host.engine import Conversation

        spans = self
        original_call = ServerConnection.call
        original_message = Conversation.user_message

        async def timed_call(self: Any, tool: str, arguments: dict, *, meta: dict, timeout_s: float) -> Any:
            t0 = time.perf_counter()
            try:
                return await original_call(self, tool, arguments, meta=meta, timeout_s=timeout_s)
            finally:
                spans.add(meta.get("switchboard/session_id", ""), t0)

        async def user_message(self: Any, text: str, **kwargs: Any) -> Any:
            spans.session.set(self.session_id)
            return await original_message(self, text, **kwargs)

        self._undo = [(ServerConnection, "call", original_call), (Conversation, "user_message", original_message)]
        ServerConnection.call = timed_call  # type: ignore[method-assign]
        Conversation.user_message = user_message  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for owner, name, original in self._undo:
            setattr(owner, name, original)

    def add(self, session_id: str, t0: float) -> None:
        self.by_session.setdefault(session_id, []).append((t0, time.perf_counter()))

    def waited(self, session_id: str, t0: float, t1: float) -> float:
        """Seconds of [t0, t1] covered by the session's tool and model spans (their union)."""
        spans = sorted((max(a, t0), min(b, t1)) for a, b in self.by_session.get(session_id, []) if b > t0 and a < t1)
        total, end = 0.0, t0
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total


class TimedModel(ScriptedModel):
    """The scripted model, its time recorded as the model's (not the host's)."""

    def __init__(self, spans: Spans) -> None:
        self.spans = spans

    async def complete(self, request: Any, on_delta: Any = None) -> Any:
        t0 = time.perf_counter()
        try:
            return await super().complete(request, on_delta)
        finally:
            self.spans.add(self.spans.session.get(), t0)


async def sessions(count: int, turns: int, ramp_s: float) -> dict[str, float]:
    import uvicorn

    from host.app import create_app
    from host.runtime import HostRuntime

    spans = Spans()
    spans.install()
    runtime = HostRuntime(provider_factory=lambda name, model, params: TimedModel(spans))
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
    metrics: dict[str, float] = {"sessions": float(count), "turns_per_session": float(turns)}
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        # warm up before any clock starts: the pool (spawning the server), the first calls
        # (schema validators compiled once per connection) and the record writers
        await run_clients(port, 2, 2, "burst", 0.0)
        servers = child_pids()
        for scenario in SCENARIOS:
            metrics.update(await scenario_run(scenario, port, count, turns, ramp_s, spans, servers))
    finally:
        server.should_exit = True
        await serve_task
        spans.uninstall()
    return metrics


async def scenario_run(
    scenario: str, port: int, count: int, turns: int, ramp_s: float, spans: Spans, servers: list[int]
) -> dict[str, float]:
    """One scenario: the customer process against the running host; metrics prefixed by scenario."""
    spec = json.dumps({"port": port, "count": count, "turns": turns, "scenario": scenario, "ramp_s": ramp_s})
    server_cpu0 = sum(_cpu(pid) for pid in servers)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--ws-clients",
        spec,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await proc.communicate()
    host_cpu = time.process_time() - cpu0
    server_cpu = sum(_cpu(pid) for pid in servers) - server_cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"the customer process failed ({proc.returncode})")
    out = json.loads(stdout)
    records = out["turns"]
    first = min((t0 for _, t0, _, _ in records), default=wall0)
    last = max((t1 for _, _, t1, _ in records), default=wall0)
    turn_ms = [(t1 - t0) * 1000 for _, t0, t1, _ in records]
    added_ms = [(t1 - t0 - spans.waited(sid, t0, t1)) * 1000 for sid, t0, t1, _ in records]
    errors = len(out["failures"]) + sum(1 for *_, ok in records if not ok)
    for failure in out["failures"][:3]:
        print(f"{scenario}: session failed: {failure}", file=sys.stderr)
    session_ids = sorted({sid for sid, *_ in records})
    audited = await audit_pairs(session_ids)
    expected = count * turns * len(TOOLS)
    p = f"{scenario}_"
    return {
        f"{p}turn_p50_ms": median(turn_ms),
        f"{p}turn_p95_ms": percentile(turn_ms, 95),
        f"{p}added_per_turn_p50_ms": median(added_ms),
        f"{p}added_per_turn_p95_ms": percentile(added_ms, 95),
        f"{p}errors": float(errors),
        f"{p}turns_completed": float(len(records)),
        f"{p}tool_calls_expected": float(expected),
        f"{p}tool_calls_audited_pairs": float(audited),
        f"{p}every_call_audited": 1.0 if audited == expected else 0.0,
        f"{p}turns_per_second": ratio(len(records), last - first),
        f"{p}host_cpu_ms_per_turn": ratio(host_cpu * 1000, len(records)),
        f"{p}server_cpu_ms_per_call": ratio(server_cpu * 1000, expected),
        f"{p}load_average_1m": os.getloadavg()[0],
    }


def _cpu(pid: int) -> float:
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return 0.0


async def audit_pairs(session_ids: list[str] | None = None, trace_ids: list[str] | None = None) -> int:
    """Calls (of these sessions, or with these trace ids) that left both their ``tool_call`` and
    ``tool_result`` records in the host's audit chain."""
    from sqlalchemy import func, select

    from audit.schema import audit_event
    from core.db import get_engine

    where = [
        audit_event.c.org_id == ORG,
        audit_event.c.event_type.in_(["tool_call", "tool_result"]),
        audit_event.c.source == "host",
    ]
    if session_ids is not None:
        where.append(audit_event.c.session_id.in_(session_ids))
    if trace_ids is not None:
        where.append(audit_event.c.trace_id.in_(trace_ids))
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_event.c.trace_id, func.count(), func.count(func.distinct(audit_event.c.event_type)))
            .where(*where)
            .group_by(audit_event.c.trace_id)
        )
        return sum(1 for _, n, kinds in rows if n == 2 and kinds == 2)


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    calls, count, turns, ramp_s = (150, 20, 5, 2.0) if args.quick else (1000, 100, 5, 5.0)
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
            metrics.update(await sessions(count, turns, ramp_s))
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
            (
                "gateway, result record before returning",
                metrics["host_sync_call_p50_ms"],
                metrics["host_sync_call_p95_ms"],
            ),
            ("ratio (p50)", metrics["host_sync_vs_bare_ratio_p50"], ""),
            (
                "gateway calls with an audit pair / calls",
                f"{metrics['choke_point_calls_audited_pairs']:.0f} / {2 * metrics['choke_point_calls']:.0f}",
                "",
            ),
        ],
    )

    def row(label: str, key: str) -> tuple[Any, ...]:
        return (label, *(metrics[f"{s}_{key}"] for s in SCENARIOS))

    print_table(
        f"host: {count} WebSocket sessions × {turns} turns × 2 tool calls (zero-latency model)",
        ["metric", f"paced (ramp {ramp_s:g} s, think 1–3 s)", "burst (no pauses)"],
        [
            row("turn latency p50 ms", "turn_p50_ms"),
            row("turn latency p95 ms", "turn_p95_ms"),
            row("added per turn p50 ms", "added_per_turn_p50_ms"),
            row("added per turn p95 ms (goal paced ≤ 50)", "added_per_turn_p95_ms"),
            row("errors (goal 0)", "errors"),
            (
                "calls with an audit pair / calls",
                *(
                    f"{metrics[f'{s}_tool_calls_audited_pairs']:.0f} / {metrics[f'{s}_tool_calls_expected']:.0f}"
                    for s in SCENARIOS
                ),
            ),
            row("turns per second", "turns_per_second"),
            row("host CPU ms per turn", "host_cpu_ms_per_turn"),
            row("order server CPU ms per call", "server_cpu_ms_per_call"),
            row(f"box load average (1 min, {os.cpu_count()} cores)", "load_average_1m"),
        ],
    )
    path = write_result("host", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--ws-clients":
        clients_main(sys.argv[2])
    elif "--workers" in sys.argv:  # host workers behind HAProxy: bench/_workers.py
        from bench._workers import main as workers_main

        asyncio.run(workers_main(sys.argv[1:]))
    else:
        asyncio.run(main())
