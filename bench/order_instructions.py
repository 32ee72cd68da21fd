"""CPU instructions per get_order call, counted by callgrind: the order server against bare FastMCP.

`bench/order_server.py` times the same servers, and its ratios move with the machine's load (on a
shared box, from 1.2 to 1.5 between two runs of the same tree). Instructions executed do not: this
benchmark runs each server process under valgrind's callgrind with instrumentation off while it
starts and warms up, turns counting on for exactly the measured calls (``callgrind_control``),
and divides the instructions executed by the server process (every thread) by the number of calls.

Servers (the same definitions as `bench/order_server.py`): a bare FastMCP ``echo`` server, a bare
FastMCP server doing the order server's own three queries with ``sqlite3`` (``bare, same
lookup``), that bare lookup on Switchboard's stdio transport, the order server without hooks,
and ``switchboard serve orders`` (production hooks: OAuth scopes, the audit log). The audit's
deferred work (redacting, sealing and chaining the records into SQLite) happens after the
answers, so the count waits for the last chaining before it stops.

The ratio ``serve orders / bare, same lookup`` is the CPU side of issue 16's aim (at most 1.3x);
instructions are not time (cache misses and the kernel's share are not counted: system calls
are, the kernel's work in them is not), so this complements the timed benchmark, it does not
replace it. Needs ``valgrind`` (Debian package ``valgrind``); about 2 minutes (``--quick``: 100
calls per server instead of 300).

    .venv/bin/python bench/order_instructions.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, VENV_BIN, child_pids, parse_args, print_table, ratio, started_at, write_result
from order_server import BARE_LOOKUP_SERVER, BARE_SERVER, ORDERS_CORE_SERVER, _env, seed_database

NAME = "order_instructions"
WARMUP = 40
SETTLE_S = 0.3  # > the journal's pacing interval (50 ms): the last records are chained before the count stops


def servers(home: Path) -> list[tuple[str, str, list[str], str, dict[str, str]]]:
    """(key, label, command, tool, arguments) of every server measured."""
    sql = str(home / "lookup-sql.json")
    order = {"order_id": "8841"}
    return [
        ("bare", "bare echo", [sys.executable, "-c", BARE_SERVER], "echo", {"text": "8841"}),
        ("bare_lookup", "bare, same lookup", [sys.executable, "-c", BARE_LOOKUP_SERVER, sql], "get_order", order),
        (
            "lookup_pipes",
            "bare lookup, our stdio",
            [sys.executable, "-c", BARE_LOOKUP_SERVER, sql, "pipes"],
            "get_order",
            order,
        ),
        ("orders_core", "orders, no hooks", [sys.executable, "-c", ORDERS_CORE_SERVER], "get_order", order),
        (
            "orders",
            "switchboard serve orders",
            [str(VENV_BIN / "switchboard"), "serve", "orders", "--org", "demo"],
            "get_order",
            order,
        ),
    ]


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def _instructions(folder: Path) -> int:
    """The instructions of the dumps callgrind wrote on request (``<file>.<pid>.<n>``)."""
    total = 0
    for path in folder.iterdir():
        if path.suffix[1:].isdigit() and path.stem.rsplit(".", 1)[-1].isdigit():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("summary:"):
                    total += int(line.split()[1])
    if not total:
        raise SystemExit(f"callgrind wrote no counts in {folder}: is callgrind_control working?")
    return total


async def count(
    command: list[str], tool: str, arguments: dict[str, str], env: dict[str, str], calls: int, folder: Path
) -> float:
    """Instructions per call of ``command`` (a stdio MCP server) over ``calls`` calls; dumps go to
    ``folder`` (kept until the run ends: callgrind writes its last dump as the process exits)."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    folder.mkdir()
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        "--instr-atstart=no",
        f"--callgrind-out-file={folder}/cg.%p",
        *command,
    ]
    transport = StdioTransport(argv[0], argv[1:], env={**os.environ, **env}, cwd=str(ROOT))
    before = set(child_pids())
    async with Client(transport, timeout=600) as client:
        pid = next(p for p in child_pids() if p not in before)  # valgrind runs the server in its own process
        for _ in range(WARMUP):
            await client.call_tool_mcp(tool, arguments)
        await asyncio.sleep(SETTLE_S)
        _control(pid, "--instr=on")
        _control(pid, "--zero")
        for _ in range(calls):
            await client.call_tool_mcp(tool, arguments)
        await asyncio.sleep(SETTLE_S)
        _control(pid, "--dump")
        _control(pid, "--instr=off")
    for _ in range(200):  # callgrind writes a last dump as the server exits: let it finish first
        if not Path(f"/proc/{pid}").exists():
            break
        await asyncio.sleep(0.05)
    return _instructions(folder) / calls


async def main_async(quick: bool) -> dict[str, float]:
    calls = 100 if quick else 300
    figures: dict[str, float] = {"calls": calls}
    with tempfile.TemporaryDirectory(prefix="sb-bench-instr-") as tmp:
        home = Path(tmp)
        seed_database(home)
        env = _env(home)
        for key, label, command, tool, arguments in servers(home):
            figures[f"{key}_instructions_per_call"] = await count(command, tool, arguments, env, calls, home / key)
            print(f"{label}: {figures[f'{key}_instructions_per_call'] / 1e6:.3f} M instructions a call", flush=True)
    bare = figures["bare_instructions_per_call"]
    for key in ("bare_lookup", "lookup_pipes", "orders_core", "orders"):
        figures[f"{key}_vs_bare"] = ratio(figures[f"{key}_instructions_per_call"], bare)
    for key in ("orders_core", "orders"):
        figures[f"{key}_vs_bare_lookup"] = ratio(
            figures[f"{key}_instructions_per_call"], figures["bare_lookup_instructions_per_call"]
        )
    figures["hooks_instructions_per_call"] = (
        figures["orders_instructions_per_call"] - figures["orders_core_instructions_per_call"]
    )
    return figures


def report(figures: dict[str, float]) -> None:
    rows = []
    for key, label in (
        ("bare", "bare echo"),
        ("bare_lookup", "bare, same lookup"),
        ("lookup_pipes", "bare lookup, our stdio"),
        ("orders_core", "orders, no hooks"),
        ("orders", "switchboard serve orders"),
    ):
        per_call = figures[f"{key}_instructions_per_call"] / 1e6
        vs_bare = "1.000" if key == "bare" else f"{figures[f'{key}_vs_bare']:.3f}"
        vs_lookup = f"{figures[f'{key}_vs_bare_lookup']:.3f}" if key in ("orders_core", "orders") else ""
        rows.append([label, f"{per_call:.3f}", vs_bare, vs_lookup])
    print_table(
        f"Server instructions per get_order call (callgrind, {int(figures['calls'])} calls each)",
        ["server", "M instr/call", "/ bare echo", "/ bare, same lookup (aim ≤ 1.3)"],
        rows,
    )
    print(f"hooks (scopes + audit): {figures['hooks_instructions_per_call'] / 1e6:.3f} M instructions a call")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        raise SystemExit(2)
    started = started_at()
    figures = asyncio.run(main_async(args.quick))
    report(figures)
    path = write_result(NAME, figures, quick=args.quick, started=started)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
