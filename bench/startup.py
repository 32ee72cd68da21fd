"""Start-up benchmark: how soon a freshly spawned server (and host) can be used, next to bare FastMCP.

    .venv/bin/python bench/startup.py [--quick] [--rounds N]

Side by side in one run, interleaved round by round so the neighbours' load hits every
contestant alike:

- a bare FastMCP server with one tool (this file run with ``--serve-bare``): the floor;
- ``switchboard serve orders|kb|memory --org demo`` over stdio on a demo data home.

For each: spawn → ``initialize`` answered, ``initialize`` → ``tools/list`` answered, spawn →
``tools/list`` (and its ratio to the bare server's), and for kb and memory spawn → first search
answered (the models load after the handshake). Then ``switchboard host --org demo``: spawn →
``/healthz`` ready (it connects and warms cs-agent's servers first) and ready → first
``session.started`` over the WebSocket.

The demo data home (orders, demo KB embedded, memories, cs-agent approved) is built once into
``bench/results/startup-home`` and reused; ``--fresh`` rebuilds it. Writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, VENV_BIN, median, print_table, ratio, started_at, write_result

HOME = RESULTS / "startup-home"
ENV = {
    "ANONYMIZED_TELEMETRY": "False",
    "FASTMCP_SHOW_SERVER_BANNER": "false",
    "FASTMCP_ENABLE_RICH_LOGGING": "false",
    "FASTMCP_LOG_LEVEL": "ERROR",
}
SEARCHES: dict[str, tuple[str, dict[str, Any]]] = {
    "kb": ("search", {"query": "환불은 언제 완료되나요?"}),
    "memory": ("search_memories", {"query": "연락 가능한 시간"}),
    "orders": ("get_order", {"order_id": "8841"}),
}


def serve_bare() -> None:
    """The floor: a bare FastMCP server with one tool, nothing else."""
    from fastmcp import FastMCP

    server = FastMCP("bare")

    @server.tool
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    server.run(transport="stdio", show_banner=False)


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return {**env, **ENV, "SWITCHBOARD_HOME": str(home)}


def ensure_home(fresh: bool) -> None:
    """The demo data set (as `switchboard demo` leaves it), built once."""
    if HOME.exists() and (HOME / "switchboard.db").exists() and not fresh:
        return
    print(f"building the demo data home in {HOME} (once; about a minute)…", flush=True)
    subprocess.run(
        [str(VENV_BIN / "switchboard"), "demo", "--reset", "--json"],
        env=env_for(HOME),
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )


async def stdio_round(command: list[str], home: Path, call: tuple[str, dict[str, Any]] | None) -> dict[str, float]:
    """Seconds from spawn to initialize, tools/list and (optionally) one tool call."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=env_for(home), cwd=str(ROOT))
    out: dict[str, float] = {}
    spawned = time.perf_counter()
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            out["initialize_s"] = time.perf_counter() - spawned
            await session.list_tools()
            out["tools_list_s"] = time.perf_counter() - spawned
            out["list_after_init_s"] = out["tools_list_s"] - out["initialize_s"]
            if call is not None:
                result = await session.call_tool(*call)
                if result.is_error:
                    raise RuntimeError(f"{call[0]} failed: {result.content[0].text[:200]}")
                out["first_call_s"] = time.perf_counter() - spawned
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def host_round(home: Path) -> dict[str, float]:
    """Spawn `switchboard host --org demo`; seconds to /healthz ready and ready → session.started."""
    import httpx
    import websockets

    port = free_port()
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        [str(VENV_BIN / "switchboard"), "host", "--org", "demo", "--port", str(port), "--provider", "offline"],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        async with httpx.AsyncClient() as http:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"switchboard host exited with {proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        ready = time.perf_counter()
        async with websockets.connect(f"ws://127.0.0.1:{port}/v1/ws") as ws:
            await ws.send(json.dumps({"type": "session.start", "agent": "cs-agent", "customer_ref": "C-1001"}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if message["type"] == "session.started":
                    break
                if message["type"] == "error":
                    raise RuntimeError(f"session.start failed: {message}")
        started = time.perf_counter()
        return {"host_ready_s": ready - spawned, "host_first_session_after_ready_s": started - ready}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def run(rounds: int, host_rounds: int) -> dict[str, Any]:
    sb = str(VENV_BIN / "switchboard")
    contestants: dict[str, list[str]] = {
        "bare": [sys.executable, str(Path(__file__).resolve()), "--serve-bare"],
        "orders": [sb, "serve", "orders", "--org", "demo"],
        "kb": [sb, "serve", "kb", "--org", "demo"],
        "memory": [sb, "serve", "memory", "--org", "demo", "--customer", "C-1001"],
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in contestants}
    for n in range(rounds):
        for name, command in contestants.items():
            call = SEARCHES.get(name)
            samples[name].append(await stdio_round(command, HOME, call))
        print(f"round {n + 1}/{rounds} done", flush=True)
    host = [await host_round(HOME) for _ in range(host_rounds)]
    metrics: dict[str, Any] = {}
    for name, rows in samples.items():
        for key in ("initialize_s", "tools_list_s", "list_after_init_s", "first_call_s"):
            values = [r[key] for r in rows if key in r]
            if values:
                metrics[f"{name}_{key}"] = median(values)
                metrics[f"{name}_{key}_max"] = max(values)
    for name in ("orders", "kb", "memory"):
        bare = metrics["bare_tools_list_s"]
        metrics[f"{name}_tools_list_vs_bare_ratio"] = ratio(metrics[f"{name}_tools_list_s"], bare)
    for key in ("host_ready_s", "host_first_session_after_ready_s"):
        metrics[key] = median([h[key] for h in host])
        metrics[f"{key}_max"] = max(h[key] for h in host)
    metrics["rounds"] = rounds
    metrics["load_avg_1m"] = os.getloadavg()[0]
    return metrics


def goal_rows(metrics: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(goal, measured median, target, holds) for every start-up goal of issue 18."""
    rows: list[tuple[str, float, float, bool]] = []
    for name in ("orders", "kb", "memory"):
        value = metrics[f"{name}_list_after_init_s"]
        rows.append((f"{name}: initialize → tools/list (s)", value, 0.5, value <= 0.5))
    for name in ("orders", "kb", "memory"):
        value = metrics[f"{name}_tools_list_vs_bare_ratio"]
        rows.append((f"{name}: spawn → tools/list / bare", value, 1.3, value <= 1.3))
    for name in ("kb", "memory"):
        value = metrics[f"{name}_first_call_s"]
        rows.append((f"{name}: spawn → first search (s)", value, 2.5, value <= 2.5))
    value = metrics["host_first_session_after_ready_s"]
    rows.append(("host: /healthz ready → first session (s)", value, 2.0, value <= 2.0))
    return rows


def main() -> None:
    if "--serve-bare" in sys.argv:
        serve_bare()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, one host start (under a minute)")
    parser.add_argument("--rounds", type=int, default=5, help="stdio rounds (each spawns every server once)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the demo data home first")
    args = parser.parse_args()
    started = started_at()
    ensure_home(args.fresh)
    rounds = 1 if args.quick else args.rounds
    metrics = asyncio.run(run(rounds, 1 if args.quick else 3))
    rows = []
    for name in ("bare", "orders", "kb", "memory"):
        rows.append(
            (
                name,
                metrics[f"{name}_initialize_s"],
                metrics[f"{name}_list_after_init_s"],
                metrics[f"{name}_list_after_init_s_max"],
                metrics[f"{name}_tools_list_s"],
                metrics.get(f"{name}_tools_list_vs_bare_ratio", 1.0),
                metrics.get(f"{name}_first_call_s", float("nan")),
            )
        )
    print_table(
        f"Start-up over stdio, seconds after spawn, median of {rounds} (load {metrics['load_avg_1m']:.1f}): "
        "initialize, tools/list - initialize (and max), tools/list, its ratio to bare, first search/call",
        ["server", "init", "list-init", "max", "list", "/bare", "1st call"],
        rows,
    )
    print_table(
        "switchboard host --org demo (seconds)",
        ["metric", "median", "max"],
        [
            ("spawn → /healthz ready (servers warmed)", metrics["host_ready_s"], metrics["host_ready_s_max"]),
            (
                "ready → first session.started",
                metrics["host_first_session_after_ready_s"],
                metrics["host_first_session_after_ready_s_max"],
            ),
        ],
    )
    goals = goal_rows(metrics)
    metrics["goals_held"] = sum(held for *_, held in goals)
    metrics["goals_total"] = len(goals)
    print_table(
        "Issue 18's start-up goals (medians of this run)",
        ["goal", "measured", "target", "holds"],
        [(name, value, target, "yes" if held else "NO") for name, value, target, held in goals],
    )
    path = write_result("startup", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
