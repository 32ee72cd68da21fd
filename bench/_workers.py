"""``bench/host.py --workers 1,2``: host workers behind HAProxy, side by side in one run.

One deployment on this machine (host/cluster.py): max(N) ``switchboard host`` worker processes
(offline planner), the order server over Streamable HTTP, ``haproxy`` with deploy/haproxy.cfg in
front of both, everything on one PostgreSQL database (a fresh one on the test cluster named by
``SWITCHBOARD_TEST_PG_ADMIN_URL``; without it SQLite, which the table says). For each worker
count N, the workers beyond N are put in maintenance through HAProxy's runtime API (they stay
up, idle), and the customer process (bench/host.py ``--ws-clients``) runs the paced and the
burst scenario through the balancer. Runs alternate N (paced N=1, paced N=2, burst N=1, …) so
drift on a shared box hits every N alike.

Per run: turns/s; turn latency p50/p95 (customer: ``user.message`` → ``turn.completed``);
*added* per turn p50/p95 = turn latency minus the time the host spent waiting on MCP calls
(the ``latency_ms`` of the turn's ``tool_result`` audit records, host-measured); errors (failed
sessions + turns not completed with every call ok; goal 0); worker CPU ms per turn (all worker
processes, idle ones included), HAProxy CPU ms per turn, order-server CPU ms per turn.
Ratios N=max vs N=1 for CPU per turn (goal ≤ ~1.1: no growth with workers) and turns/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._common import median, percentile, print_table, process_cpu_seconds, ratio, started_at, write_result

ORG = "bench"
AGENT = "bench-agent"
SCENARIOS = ("paced", "burst")
HOST_PY = Path(__file__).resolve().parent / "host.py"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="host workers behind HAProxy (bench/host.py --workers)")
    parser.add_argument("--quick", action="store_true", help="reduced run (a minute on a quiet box)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    args = parser.parse_args(argv)
    args.counts = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    if not args.counts or min(args.counts) < 1:
        parser.error("--workers takes counts ≥ 1, e.g. 1,2")
    return args


async def setup(cluster: Any) -> None:
    """Orders for the bench tenant; the order server published at its balancer URL; a bench agent."""
    from host.cluster import TOKEN_ENV
    from registry.agents import approve_agent_version, create_agent, draft_agent_version
    from registry.demo import ensure_server_version
    from registry.launch import LaunchSpec
    from registry.specs import ToolSpec
    from servers.order_server.seed import seed

    await seed(ORG)
    os.environ[TOKEN_ENV] = cluster.token
    info = await ensure_server_version("orders", LaunchSpec.http(cluster.mcp_url("orders"), TOKEN_ENV))
    await create_agent(ORG, AGENT, created_by="bench")
    tools = [ToolSpec("orders", info.version, t, "never", 10_000, 5) for t in ("get_order", "get_shipping_status")]
    draft = await draft_agent_version(
        ORG, AGENT, model="offline:planner", system_prompt="bench", tools=tools, drafted_by="bench"
    )
    await approve_agent_version(ORG, AGENT, draft.version, approved_by="bench")


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # it ended during the run
            total += process_cpu_seconds(pid)
    return total


async def _tool_ms_by_turn(session_ids: list[str]) -> dict[tuple[str, int], float]:
    """(session, turn seq) → ms the host waited on MCP calls in it (host tool_result records)."""
    from sqlalchemy import select

    from audit.schema import audit_event
    from core.db import get_engine
    from host.records import turns

    engine = await get_engine()
    async with engine.connect() as conn:
        seqs = {
            r.id: (r.session_id, int(r.seq))
            for r in await conn.execute(
                select(turns.c.id, turns.c.session_id, turns.c.seq).where(turns.c.session_id.in_(session_ids))
            )
        }
        rows = await conn.execute(
            select(audit_event.c.turn_id, audit_event.c.latency_ms).where(
                audit_event.c.org_id == ORG,
                audit_event.c.source == "host",
                audit_event.c.event_type == "tool_result",
                audit_event.c.session_id.in_(session_ids),
            )
        )
        out: dict[tuple[str, int], float] = {}
        for turn_id, latency in rows:
            key = seqs.get(turn_id)
            if key is not None:
                out[key] = out.get(key, 0.0) + float(latency or 0.0)
    return out


async def one_run(cluster: Any, workers: int, scenario: str, count: int, turns: int, ramp_s: float) -> dict:
    for index in range(cluster.workers):
        cluster.set_in_rotation(index, index < workers)
    await cluster.wait_up(workers)
    port = int(cluster.address.rsplit(":", 1)[1])
    spec = json.dumps(
        {"port": port, "count": count, "turns": turns, "scenario": scenario, "ramp_s": ramp_s, "calls": None}
    )
    pids = {"workers": cluster.worker_pids(), "haproxy": [cluster.haproxy_pid], "servers": cluster.server_pids()}
    cpu0 = {k: _cpu(v) for k, v in pids.items()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HOST_PY), "--ws-clients", spec, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await proc.communicate()
    cpu = {k: _cpu(v) - cpu0[k] for k, v in pids.items()}
    if proc.returncode != 0:
        raise RuntimeError(f"the customer process failed ({proc.returncode})")
    out = json.loads(stdout)
    records = out["turns"]
    for failure in out["failures"][:3]:
        print(f"{scenario} × {workers}: session failed: {failure}", file=sys.stderr)
    waited = await _tool_ms_by_turn(sorted({r[0] for r in records}))
    by_session: dict[str, int] = {}
    turn_ms, added_ms = [], []
    for sid, t0, t1, _ok in sorted(records, key=lambda r: (r[0], r[1])):
        by_session[sid] = by_session.get(sid, 0) + 1
        ms = (t1 - t0) * 1000
        turn_ms.append(ms)
        added_ms.append(ms - waited.get((sid, by_session[sid]), 0.0))
    first = min((r[1] for r in records), default=0.0)
    last = max((r[2] for r in records), default=0.0)
    n = len(records)
    return {
        "turns_per_second": ratio(n, last - first),
        "turn_p50_ms": median(turn_ms),
        "turn_p95_ms": percentile(turn_ms, 95),
        "added_p50_ms": median(added_ms),
        "added_p95_ms": percentile(added_ms, 95),
        "errors": float(len(out["failures"]) + sum(1 for *_, ok in records if not ok)),
        "turns": float(n),
        "worker_cpu_ms_per_turn": ratio(cpu["workers"] * 1000, n),
        "haproxy_cpu_ms_per_turn": ratio(cpu["haproxy"] * 1000, n),
        "server_cpu_ms_per_turn": ratio(cpu["servers"] * 1000, n),
    }


async def _pg_database() -> tuple[str | None, Any]:
    """A fresh PostgreSQL database on the test cluster (URL, drop coroutine), or (None, None)."""
    admin = os.environ.get("SWITCHBOARD_TEST_PG_ADMIN_URL")
    if not admin:
        return None, None
    import asyncpg

    name = f"sbbench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    base = admin.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+asyncpg://{base}/{name}", drop


async def main(argv: list[str]) -> None:
    args = parse(argv)
    started = started_at()
    count, turns, ramp_s = (8, 4, 2.0) if args.quick else (40, 5, 5.0)
    most = max(args.counts)
    metrics: dict[str, float] = {"sessions": float(count), "turns_per_session": float(turns)}
    with tempfile.TemporaryDirectory(prefix="sb-bench-workers-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        url, drop = await _pg_database()
        if url:
            os.environ["SWITCHBOARD_DATABASE_URL"] = url
        else:
            os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
            print("note: SWITCHBOARD_TEST_PG_ADMIN_URL is not set: the workers share SQLite", file=sys.stderr)
        from core.db import dispose_engines
        from core.settings import reload_settings
        from host.cluster import Cluster

        reload_settings()
        cluster = Cluster(org=ORG, workers=most, check_ms=500)
        t0 = time.perf_counter()
        try:
            await cluster.start_servers()
            await setup(cluster)
            await cluster.start_workers()
            metrics["startup_s"] = time.perf_counter() - t0
            await one_run(cluster, most, "burst", 2, 2, 0.0)  # warm every worker's first calls
            for scenario in SCENARIOS:
                for n in args.counts:
                    run = await one_run(cluster, n, scenario, count, turns, ramp_s)
                    metrics.update({f"{scenario}_w{n}_{k}": v for k, v in run.items()})
        finally:
            cluster.stop()
            await dispose_engines()
            if drop is not None:
                await drop()
    metrics["database_postgres"] = 1.0 if url else 0.0
    for scenario in SCENARIOS:
        p, q = f"{scenario}_w{args.counts[0]}_", f"{scenario}_w{most}_"
        metrics[f"{scenario}_cpu_per_turn_ratio_w{most}_vs_w{args.counts[0]}"] = ratio(
            metrics[f"{q}worker_cpu_ms_per_turn"], metrics[f"{p}worker_cpu_ms_per_turn"]
        )
        metrics[f"{scenario}_turns_per_second_ratio_w{most}_vs_w{args.counts[0]}"] = ratio(
            metrics[f"{q}turns_per_second"], metrics[f"{p}turns_per_second"]
        )
    _print(metrics, args.counts, count, turns, ramp_s, bool(url))
    path = write_result("host_workers", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


def _print(metrics: dict[str, float], counts: list[int], count: int, turns: int, ramp_s: float, pg: bool) -> None:
    rows_spec = [
        ("turns per second", "turns_per_second"),
        ("turn latency p50 ms", "turn_p50_ms"),
        ("turn latency p95 ms", "turn_p95_ms"),
        ("added per turn p50 ms", "added_p50_ms"),
        ("added per turn p95 ms", "added_p95_ms"),
        ("errors (goal 0)", "errors"),
        ("turns completed", "turns"),
        ("host worker CPU ms per turn", "worker_cpu_ms_per_turn"),
        ("HAProxy CPU ms per turn", "haproxy_cpu_ms_per_turn"),
        ("order server CPU ms per turn", "server_cpu_ms_per_turn"),
    ]
    columns = ["metric"] + [f"{s} × {n} worker{'s' if n > 1 else ''}" for s in SCENARIOS for n in counts]
    rows = [(label, *(metrics[f"{s}_w{n}_{key}"] for s in SCENARIOS for n in counts)) for label, key in rows_spec]
    db = "PostgreSQL" if pg else "SQLite"
    print_table(
        f"host workers behind HAProxy ({db}, order server over HTTP): {count} sessions × {turns} turns, "
        f"paced ramp {ramp_s:g} s + think 1–3 s, burst without pauses; {os.cpu_count()} cores",
        columns,
        rows,
    )
    most, least = max(counts), min(counts)
    print_table(
        f"{most} workers vs {least} (ratios)",
        ["scenario", "CPU per turn (goal ≤ ~1.1)", "turns/s"],
        [
            (
                s,
                metrics[f"{s}_cpu_per_turn_ratio_w{most}_vs_w{least}"],
                metrics[f"{s}_turns_per_second_ratio_w{most}_vs_w{least}"],
            )
            for s in SCENARIOS
        ],
    )
