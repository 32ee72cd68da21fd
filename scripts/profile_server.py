"""Profile `switchboard serve orders` per tool call with py-spy (sampling, the real process).

Starts the order server over stdio exactly as a client does, warms it up, attaches
``py-spy record`` (raw collapsed stacks) while calling ``get_order`` ``--calls`` times, then
prints the functions that the busy samples pass through most (inclusive, like cProfile's
cumulative column) and the ones that the samples sit in (self time). Samples of idle threads
(waiting on a queue, a condition or epoll) are left out, so the percentages are shares of the
work the server did, not of the wall time.

    .venv/bin/python scripts/profile_server.py [--calls 1500] [--top 40] [--raw out.txt]

Needs py-spy (``pip install -e .[dev]``) and permission to ptrace a child process. Not a
benchmark (so not in bench/, which `make bench` runs): the sampler slows the server down; use
bench/order_server.py for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))  # the benchmarks' helpers

from _common import ROOT, VENV_BIN, child_pids
from order_server import _env, seed_database

IDLE = (
    "select (selectors.py",
    "wait (threading.py",
    "Condition.wait",
    "WorkerThread.run",
    "Queue.get",
    "_worker (concurrent/futures/thread.py)",
)
SKIP = re.compile(r"typer|switchboard_cli|\(switchboard\)|asyncio/|anyio/_backends|_eventloop|kit/serve.py|kit/cli.py")


def analyse(raw: Path, top: int) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """(busy samples, inclusive shares, self shares) from py-spy's raw collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if not frames or frames[-1].startswith(IDLE) or "poll" in frames[-1].split(" (")[0]:
            continue
        n = int(count)
        busy += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    share = [(f, 100 * n / busy) for f, n in inclusive.most_common() if not SKIP.search(f)][:top]
    return busy, share, [(f, 100 * n / busy) for f, n in own.most_common(top)]


async def record(calls: int, raw: Path) -> float:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    with tempfile.TemporaryDirectory(prefix="sb-profile-") as tmp:
        home = Path(tmp)
        seed_database(home)
        transport = StdioTransport(
            str(VENV_BIN / "switchboard"), ["serve", "orders", "--org", "demo"], env=_env(home), cwd=str(ROOT)
        )
        before = set(child_pids())
        async with Client(transport, timeout=60) as client:
            for _ in range(50):
                await client.call_tool_mcp("get_order", {"order_id": "8841"})
            pid = next(p for p in child_pids() if p not in before)
            spy = subprocess.Popen(
                [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "-r", "500", "-f", "raw", "-o", str(raw)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # py-spy attaches
            start = time.perf_counter()
            for _ in range(calls):
                result = await client.call_tool_mcp("get_order", {"order_id": "8841"})
                if result.is_error:
                    raise RuntimeError(str(result.content))
            elapsed = time.perf_counter() - start
            spy.send_signal(2)  # SIGINT: py-spy writes the file and exits
            _, err = spy.communicate(timeout=60)
            if not raw.exists():
                raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")
    return elapsed * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw collapsed stacks here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sb-spy-") as tmp:
        raw = args.raw or Path(tmp) / "orders.raw"
        per_call = asyncio.run(record(args.calls, raw))
        busy, share, own = analyse(raw, args.top)
    from _common import print_table

    print_table(
        f"get_order, {args.calls} calls ({per_call:.2f} ms per call under the sampler), {busy} busy samples: "
        "inclusive share",
        ["function", "% of busy samples"],
        share,
    )
    print_table("self share (where the samples sit)", ["function", "% of busy samples"], own)


if __name__ == "__main__":
    main()
