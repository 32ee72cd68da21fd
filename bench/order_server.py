"""The order server over stdio against a bare FastMCP server (the floor), side by side.

Six stdio servers run in one process run, taking turns in blocks of 100 calls (one call in flight):

- ``bare``: a bare FastMCP server with a trivial ``echo`` tool (the floor);
- ``bare_order``: a bare FastMCP server whose ``get_order`` returns the order server's answer for
  order 8841 as a constant (what moving an order-sized answer over MCP costs by itself);
- ``bare_lookup``: a bare FastMCP server doing the same lookup by hand: the order server's own
  three queries (order header, lines, refunds; compiled to SQL by SQLAlchemy) on the same SQLite
  file with the stdlib ``sqlite3`` module, rows returned as they come (what a developer writing
  the tool without Switchboard would run: no tenancy, validation, masking or audit);
- ``lookup_pipes``: that same bare lookup server, served by Switchboard's stdio transport
  (``servers/kit/stdio.py``: the event loop's own pipes instead of the SDK's worker-thread
  hand-offs), to show what the order server's own layers cost on the transport it runs on;
- ``kit``: the Switchboard kit (identity, validation, hooks with the production audit log) with
  the same ``echo`` tool, to show what the shared layers cost;
- ``orders_core``: the order server's ``get_order`` without hooks (``build_server(hooks=[])``);
- ``orders``: ``switchboard serve orders --org demo``, exactly as Claude Desktop runs it
  (console script, production hooks including the audit log).

For each: calls/s, p50/p99 latency, server CPU per call (from /proc), the client's CPU per call
(this process: the MCP client parses each answer and checks it against the tool's output schema,
so a typed answer costs the client more than a plain ``dict``) and cold start (spawn → first
tool result). Each figure is the median over rounds; ratios are ``<server> / bare`` (for calls/s
higher is better, for the others lower is better; the aim for the order server is ≤ 1.3x slower).

The servers take turns in blocks (the order rotating every cycle), so each cycle compares blocks
run within the same second or so: the per-cycle ratios of p50 and server CPU per call are reported
as their median and quartiles, so a neighbour's burst on a shared machine spoils a cycle, not the
figure.

    .venv/bin/python bench/order_server.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    VENV_BIN,
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

NAME = "order_server"
TARGET = 1.3
KEYS = ("bare", "bare_order", "bare_lookup", "lookup_pipes", "kit", "orders_core", "orders")
CYCLE_METRICS = ("p50_ms", "cpu_ms_per_call")
METRICS = (
    ("calls_per_s", "calls/s", "higher"),
    ("p50_ms", "p50 ms", "lower"),
    ("p99_ms", "p99 ms", "lower"),
    ("cpu_ms_per_call", "server CPU ms/call", "lower"),
    ("client_cpu_ms_per_call", "client CPU ms/call", "lower"),
    ("cold_start_ms", "cold start ms", "lower"),
)
BARE_SERVER = """
from fastmcp import FastMCP
mcp = FastMCP("bare", version="1.0.0")
@mcp.tool
async def echo(text: str) -> dict:
    \"\"\"Echo the text.\"\"\"
    return {"text": text}
mcp.run(transport="stdio", show_banner=False)
"""
BARE_ORDER_SERVER = """
import json, sys
from fastmcp import FastMCP
ORDER = json.loads(open(sys.argv[1], encoding="utf-8").read())
mcp = FastMCP("bare", version="1.0.0")
@mcp.tool
async def get_order(order_id: str) -> dict:
    \"\"\"The same order every time (a constant of the order server's answer).\"\"\"
    return ORDER
mcp.run(transport="stdio", show_banner=False)
"""
ORDER_JSON = """
import asyncio, sys
from servers.kit import ServerLaunch
from servers.order_server.app import build_server
server = build_server(launch=ServerLaunch(org_id="demo"), hooks=[])
result = asyncio.run(server.call_tool("get_order", {"order_id": "8841"}))
sys.stdout.write(result.structured_content and __import__("json").dumps(result.structured_content, ensure_ascii=False))
"""
BARE_LOOKUP_SERVER = """
import json, sqlite3, sys
from fastmcp import FastMCP
SQL = json.loads(open(sys.argv[1], encoding="utf-8").read())
conn = sqlite3.connect(SQL["database"], check_same_thread=False)
conn.row_factory = sqlite3.Row
mcp = FastMCP("bare", version="1.0.0")
@mcp.tool
async def get_order(order_id: str) -> dict:
    \"\"\"The order, its lines and its refunds, read with the order server's own queries.\"\"\"
    params = {"org_id": "demo", "order_id": order_id}
    head = conn.execute(SQL["header"], params).fetchone()
    if head is None:
        raise ValueError(f"no order {order_id}")
    items = [dict(row) for row in conn.execute(SQL["items"], params)]
    refunds = [dict(row) for row in conn.execute(SQL["refunds"], params)]
    return {"order": dict(head), "items": items, "refunds": refunds}
if len(sys.argv) > 2 and sys.argv[2] == "pipes":
    from servers.kit.stdio import run_stdio
    run_stdio(mcp)
else:
    mcp.run(transport="stdio", show_banner=False)
"""
LOOKUP_SQL = """
import json, sys
from sqlalchemy.dialects import sqlite
from servers.order_server.store import HEADER, ITEMS, REFUNDS
def text(query):
    return str(query.compile(dialect=sqlite.dialect(paramstyle="named")))
json.dump({"database": sys.argv[1], "header": text(HEADER[False]), "items": text(ITEMS), "refunds": text(REFUNDS)},
          sys.stdout)
"""
KIT_SERVER = """
from servers.kit import ServerLaunch, build_server
from servers.kit.serve import quiet_fastmcp
from servers.kit.stdio import run_stdio
quiet_fastmcp()
mcp = build_server("echo", "1.0.0", instructions="echo", launch=ServerLaunch(org_id="demo"))
@mcp.tool
async def echo(text: str) -> dict:
    \"\"\"Echo the text.\"\"\"
    return {"text": text}
run_stdio(mcp)
"""
ORDERS_CORE_SERVER = """
from servers.kit import ServerLaunch
from servers.kit.serve import quiet_fastmcp
from servers.kit.stdio import run_stdio
from servers.order_server.app import build_server
quiet_fastmcp()
run_stdio(build_server(launch=ServerLaunch(org_id="demo"), hooks=[]))
"""


@dataclass
class Server:
    label: str
    command: str
    args: list[str]
    tool: str
    arguments: dict[str, str]
    runs: list[dict[str, float]] = field(default_factory=list)
    blocks: list[dict[str, float]] = field(default_factory=list)  # per cycle: p50, CPU per call
    cold: list[float] = field(default_factory=list)


def _env(home: Path) -> dict[str, str]:
    return {
        "SWITCHBOARD_HOME": str(home),
        "SWITCHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'switchboard.db'}",
        "ANONYMIZED_TELEMETRY": "False",
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_ENABLE_RICH_LOGGING": "false",
        "FASTMCP_LOG_LEVEL": "ERROR",
    }


def _client(server: Server, env: dict[str, str]):
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(server.command, server.args, env=env, cwd=str(ROOT), keep_alive=False)
    return Client(transport, timeout=60)


async def cold_start(server: Server, env: dict[str, str]) -> float:
    """Seconds from spawning the server to the first tool result."""
    start = time.perf_counter()
    async with _client(server, env) as client:
        result = await client.call_tool_mcp(server.tool, server.arguments)
        elapsed = time.perf_counter() - start
    if result.is_error:
        raise RuntimeError(f"{server.label}: {result.content}")
    return elapsed


async def throughput(servers: list[Server], env: dict[str, str], calls: int, warmup: int, block: int) -> None:
    """calls/s, p50/p99 (ms) and server CPU ms per call, one connection per server, one call in flight.

    The servers take turns in blocks of ``block`` calls (the order rotating every cycle) so that
    all see the same machine load; each cycle's block figures are kept for per-cycle ratios.
    """
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        clients, pids = [], []
        for server in servers:
            before = set(child_pids())
            start = time.perf_counter()
            client = await stack.enter_async_context(_client(server, env))
            await client.call_tool_mcp(server.tool, server.arguments)
            server.cold.append(time.perf_counter() - start)
            for _ in range(warmup):
                await client.call_tool_mcp(server.tool, server.arguments)
            new = [p for p in child_pids() if p not in before]
            if len(new) != 1:
                raise RuntimeError(f"expected one new server process, found {new}")
            clients.append(client)
            pids.append(new[0])
        latencies: list[list[float]] = [[] for _ in servers]
        cpu = [0.0 for _ in servers]
        client_cpu = [0.0 for _ in servers]
        wall = [0.0 for _ in servers]
        for cycle in range(max(1, calls // block)):
            order = list(range(len(servers)))
            order = order[cycle % len(order) :] + order[: cycle % len(order)]
            for index in order:
                server = servers[index]
                cpu0 = process_cpu_seconds(pids[index])
                client0 = time.process_time()
                wall0 = time.perf_counter()
                times = []
                for _ in range(block):
                    t0 = time.perf_counter()
                    result = await clients[index].call_tool_mcp(server.tool, server.arguments)
                    times.append((time.perf_counter() - t0) * 1000)
                    if result.is_error:
                        raise RuntimeError(f"{server.label}: {result.content}")
                block_wall = time.perf_counter() - wall0
                block_client = time.process_time() - client0
                block_cpu = process_cpu_seconds(pids[index]) - cpu0
                wall[index] += block_wall
                cpu[index] += block_cpu
                client_cpu[index] += block_client
                latencies[index].extend(times)
                server.blocks.append({"p50_ms": percentile(times, 50), "cpu_ms_per_call": block_cpu * 1000 / block})
    for index, server in enumerate(servers):
        done = len(latencies[index])
        server.runs.append(
            {
                "calls_per_s": done / wall[index],
                "p50_ms": percentile(latencies[index], 50),
                "p99_ms": percentile(latencies[index], 99),
                "cpu_ms_per_call": cpu[index] * 1000 / done,
                "client_cpu_ms_per_call": client_cpu[index] * 1000 / done,
            }
        )


def cycle_ratios(server: Server, bare: Server, metric: str) -> list[float]:
    """``metric`` of ``server`` / of the bare server, per cycle (blocks run back to back)."""
    return [
        ratio(mine[metric], base[metric])
        for mine, base in zip(server.blocks, bare.blocks, strict=True)
        if base[metric] > 0
    ]


def seed_database(home: Path) -> Path:
    """A fresh SQLite database with the demo shop (a subprocess, as a user would run it); returns
    a file holding the order server's answer for order 8841 (the bare order server's constant)."""
    import subprocess

    env = {**os.environ, **_env(home)}
    subprocess.run(
        [str(VENV_BIN / "switchboard"), "orders", "seed", "--org", "demo", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    answer = subprocess.run(
        [sys.executable, "-c", ORDER_JSON], env=env, cwd=str(ROOT), check=True, capture_output=True, text=True
    ).stdout
    path = home / "order-8841.json"
    path.write_text(answer, encoding="utf-8")
    sql = subprocess.run(
        [sys.executable, "-c", LOOKUP_SQL, str(home / "switchboard.db")],
        env=env,
        cwd=str(ROOT),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (home / "lookup-sql.json").write_text(sql, encoding="utf-8")
    return path


async def main_async(quick: bool) -> tuple[list[Server], dict[str, float]]:
    rounds, calls, warmup, extra_colds = (2, 400, 20, 0) if quick else (5, 2000, 50, 2)
    with tempfile.TemporaryDirectory(prefix="sb-bench-orders-") as tmp:
        home = Path(tmp)
        order_file = seed_database(home)
        env = _env(home)
        servers = [
            Server("bare echo", sys.executable, ["-c", BARE_SERVER], "echo", {"text": "8841"}),
            Server(
                "bare, order answer",
                sys.executable,
                ["-c", BARE_ORDER_SERVER, str(order_file)],
                "get_order",
                {"order_id": "8841"},
            ),
            Server(
                "bare, same lookup",
                sys.executable,
                ["-c", BARE_LOOKUP_SERVER, str(home / "lookup-sql.json")],
                "get_order",
                {"order_id": "8841"},
            ),
            Server(
                "bare lookup, our stdio",
                sys.executable,
                ["-c", BARE_LOOKUP_SERVER, str(home / "lookup-sql.json"), "pipes"],
                "get_order",
                {"order_id": "8841"},
            ),
            Server("kit+audit echo", sys.executable, ["-c", KIT_SERVER], "echo", {"text": "8841"}),
            Server("orders, no hooks", sys.executable, ["-c", ORDERS_CORE_SERVER], "get_order", {"order_id": "8841"}),
            Server(
                "switchboard serve orders",
                str(VENV_BIN / "switchboard"),
                ["serve", "orders", "--org", "demo"],
                "get_order",
                {"order_id": "8841"},
            ),
        ]
        for _ in range(rounds):
            await throughput(servers, env, calls, warmup, block=100)
        for _ in range(extra_colds):
            for server in servers:
                server.cold.append(await cold_start(server, env))
    figures: dict[str, float] = {"rounds": rounds, "calls_per_round": calls}
    for key, server in zip(KEYS, servers, strict=True):
        for metric in ("calls_per_s", "p50_ms", "p99_ms", "cpu_ms_per_call", "client_cpu_ms_per_call"):
            figures[f"{key}_{metric}"] = median(r[metric] for r in server.runs)
        figures[f"{key}_cold_start_ms"] = median(server.cold) * 1000
    for key in KEYS[1:]:
        for metric, _, _ in METRICS:
            figures[f"{key}_{metric}_ratio"] = ratio(figures[f"{key}_{metric}"], figures[f"bare_{metric}"])
    for key, server in zip(KEYS[1:], servers[1:], strict=True):
        for metric in CYCLE_METRICS:
            values = cycle_ratios(server, servers[0], metric)
            figures[f"{key}_{metric}_cycle_ratio_median"] = median(values)
            figures[f"{key}_{metric}_cycle_ratio_p25"] = percentile(values, 25)
            figures[f"{key}_{metric}_cycle_ratio_p75"] = percentile(values, 75)
        if key in ("orders_core", "orders"):
            bases = (("bare_order", servers[1]), ("bare_lookup", servers[2]), ("lookup_pipes", servers[3]))
            for against, base in bases:
                for metric in CYCLE_METRICS:
                    values = cycle_ratios(server, base, metric)
                    figures[f"{key}_{metric}_vs_{against}_cycle_ratio_median"] = median(values)
                    figures[f"{key}_{metric}_vs_{against}_cycle_ratio_p25"] = percentile(values, 25)
                    figures[f"{key}_{metric}_vs_{against}_cycle_ratio_p75"] = percentile(values, 75)
    figures["cycles"] = len(servers[0].blocks)
    return servers, figures


def _verdict(ratio_value: float, better: str) -> str:
    slowdown = 1 / ratio_value if better == "higher" else ratio_value
    return "ok" if slowdown <= TARGET else f"{slowdown:.2f}x"


def report(servers: list[Server], figures: dict[str, float]) -> None:
    print_table(
        f"get_order over stdio, side by side (median of {int(figures['rounds'])} rounds × "
        f"{int(figures['calls_per_round'])} calls; {len(servers[0].cold)} cold starts each)",
        ["metric", *(s.label for s in servers)],
        [(label, *(figures[f"{key}_{metric}"] for key in KEYS)) for metric, label, _ in METRICS],
    )
    rows = []
    for metric, label, better in METRICS:
        core = figures[f"orders_core_{metric}_ratio"]
        full = figures[f"orders_{metric}_ratio"]
        rows.append(
            (
                label,
                figures[f"bare_order_{metric}_ratio"],
                figures[f"bare_lookup_{metric}_ratio"],
                figures[f"lookup_pipes_{metric}_ratio"],
                figures[f"kit_{metric}_ratio"],
                core,
                _verdict(core, better),
                full,
                _verdict(full, better),
            )
        )
    print_table(
        f"Ratios to the bare server (aim: at most {TARGET}x slower)",
        [
            "metric",
            "bare, order answer",
            "bare, same lookup",
            "bare lookup, our stdio",
            "kit+audit",
            "orders, no hooks",
            "aim",
            "switchboard serve orders",
            "aim",
        ],
        rows,
    )


def report_cycles(figures: dict[str, float]) -> None:
    rows = []
    pairs = (
        ("bare_order", "", "bare, order answer / bare echo"),
        ("bare_lookup", "", "bare, same lookup / bare echo"),
        ("lookup_pipes", "", "bare lookup on our stdio / bare echo"),
        ("kit", "", "kit+audit echo / bare echo"),
        ("orders_core", "", "orders, no hooks / bare echo"),
        ("orders", "", "serve orders / bare echo"),
        ("orders_core", "_vs_bare_order", "orders, no hooks / bare, order answer"),
        ("orders", "_vs_bare_order", "serve orders / bare, order answer"),
        ("orders_core", "_vs_bare_lookup", "orders, no hooks / bare, same lookup"),
        ("orders", "_vs_bare_lookup", "serve orders / bare, same lookup"),
        ("orders_core", "_vs_lookup_pipes", "orders, no hooks / bare lookup on our stdio"),
        ("orders", "_vs_lookup_pipes", "serve orders / bare lookup on our stdio"),
    )
    for key, against, label in pairs:
        for metric, name in (("p50_ms", "p50"), ("cpu_ms_per_call", "server CPU/call")):
            stem = f"{key}_{metric}{against}_cycle_ratio"
            mid, low, high = figures[f"{stem}_median"], figures[f"{stem}_p25"], figures[f"{stem}_p75"]
            rows.append((f"{label}: {name}", mid, low, high, "ok" if mid <= TARGET else "missed"))
    print_table(
        f"Per-cycle ratios to the bare server ({int(figures['cycles'])} cycles; blocks back to back, order rotating)",
        ["servers: metric", "median", "p25", "p75", f"aim ≤ {TARGET}"],
        rows,
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    servers, figures = asyncio.run(main_async(args.quick))
    report(servers, figures)
    report_cycles(figures)
    path = write_result(NAME, figures, quick=args.quick, started=started)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
