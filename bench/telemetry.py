"""What telemetry costs the order server: off (the default), metrics on, traces + metrics on.

Four stdio servers run in one process run, taking turns in blocks of 50 ``get_order`` calls
(bench/order_server.py's harness, one call in flight):

- ``bare``: a bare FastMCP server with a trivial ``echo`` tool (the floor, for scale);
- ``off``: ``switchboard serve orders --org demo`` with no ``OTEL_*`` and no ``SWITCHBOARD_METRICS``
  (the default: one attribute read per call, no SDK module loaded);
- ``metrics``: the same with ``SWITCHBOARD_METRICS=1`` (instruments recorded; nobody scrapes);
- ``traces``: the same with ``SWITCHBOARD_METRICS=1`` and ``OTEL_EXPORTER_OTLP_ENDPOINT`` set to an
  OTLP/HTTP sink on loopback (a separate process): spans batched and exported, metrics exported.

"Never imported" cannot be a server row: the OpenTelemetry API is imported by the MCP SDK and
fastmcp themselves, and what Switchboard adds while off is a read of ``core.telemetry.ON`` at each
instrumented point (tests/telemetry/test_setup.py checks that no SDK module is loaded). So the
off path is timed directly instead: a loop through the five off-path checks a host turn with one
model step and one tool call passes (turn span, model step, gateway, MCP call, server middleware)
against the same loop without them, in nanoseconds, and set against the off server's p50.
Ratios are to ``off``.

    .venv/bin/python bench/telemetry.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, VENV_BIN, median, parse_args, print_table, ratio, started_at, write_result
from order_server import BARE_SERVER, Server, _env, seed_database, throughput

NAME = "telemetry"
KEYS = ("bare", "off", "metrics", "traces")
METRICS = (
    ("calls_per_s", "calls/s", "higher"),
    ("p50_ms", "p50 ms", "lower"),
    ("p99_ms", "p99 ms", "lower"),
    ("cpu_ms_per_call", "server CPU ms/call", "lower"),
)
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _orders(label: str, extra_env: dict[str, str]) -> Server:
    """``switchboard serve orders`` with ``extra_env`` on top of the shared environment (via env(1))."""
    args = [f"{k}={v}" for k, v in extra_env.items()]
    args += [str(VENV_BIN / "switchboard"), "serve", "orders", "--org", "demo"]
    return Server(label, "/usr/bin/env", args, "get_order", {"order_id": "8841"})


async def main_async(quick: bool) -> dict[str, float]:
    rounds, calls, warmup = (2, 100, 20) if quick else (5, 1000, 50)
    off = off_path_ns(quick, {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)})
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="sb-bench-telemetry-") as tmp:
            home = Path(tmp)
            seed_database(home)
            env = _env(home)
            servers = [
                Server("bare echo", sys.executable, ["-c", BARE_SERVER], "echo", {"text": "8841"}),
                _orders("orders, telemetry off", {}),
                _orders("orders, metrics on", {"SWITCHBOARD_METRICS": "1"}),
                _orders(
                    "orders, traces+metrics → OTLP",
                    {"SWITCHBOARD_METRICS": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
                ),
            ]
            for _ in range(rounds):
                await throughput(servers, env, calls, warmup, block=50)
    finally:
        sink.terminate()
        sink.wait(10)
    figures: dict[str, float] = {"rounds": rounds, "calls_per_round": calls, **off}
    for key, server in zip(KEYS, servers, strict=True):
        for metric, _, _ in METRICS:
            figures[f"{key}_{metric}"] = median(r[metric] for r in server.runs)
    for key in ("bare", "metrics", "traces"):
        for metric, _, _ in METRICS:
            figures[f"{key}_{metric}_ratio"] = ratio(figures[f"{key}_{metric}"], figures[f"off_{metric}"])
    return figures


OFF_PATH = """
import sys, time
from core import telemetry
from host.telemetry import turn_span
assert not telemetry.ON
loops = int(sys.argv[1])
def plain():
    for _ in range(loops):
        pass
def checked():
    for _ in range(loops):
        with turn_span(None, None):  # the engine's turn
            pass
        if telemetry.ON:  # the model step
            pass
        if telemetry.ON:  # the gateway
            pass
        if telemetry.ON:  # the MCP call
            pass
        if telemetry.ON:  # the server's middleware
            pass
def timed(fn):
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / loops
base = sorted(timed(plain) for _ in range(5))[2]
checks = sorted(timed(checked) for _ in range(5))[2]
print(max(checks - base, 0.0))
"""


def off_path_ns(quick: bool, env: dict[str, str]) -> dict[str, float]:
    """Nanoseconds the off checks add to one turn with one tool call (median of 5 timings; its own
    process, with telemetry off)."""
    loops = 200_000 if quick else 2_000_000
    out = subprocess.run(
        [sys.executable, "-c", OFF_PATH, str(loops)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return {"off_path_ns_per_turn": float(out.stdout.strip())}


def report(figures: dict[str, float]) -> None:
    labels = ("bare echo", "orders, off", "orders, metrics", "orders, traces+metrics")
    print_table(
        f"get_order over stdio, side by side (median of {int(figures['rounds'])} rounds × "
        f"{int(figures['calls_per_round'])} calls)",
        ["metric", *labels],
        [(label, *(figures[f"{key}_{metric}"] for key in KEYS)) for metric, label, _ in METRICS],
    )
    print_table(
        "Ratios to telemetry off (higher calls/s is better; lower for the others)",
        ["metric", "bare echo / off", "metrics / off", "traces+metrics / off"],
        [
            (label, *(figures[f"{key}_{metric}_ratio"] for key in ("bare", "metrics", "traces")))
            for metric, label, _ in METRICS
        ],
    )
    share = figures["off_path_ns_per_turn"] / (figures["off_p50_ms"] * 1e6)
    print_table(
        "Telemetry off: what the checks add",
        ["figure", "value"],
        [
            ("ns per turn with one model step and one tool call (5 checks)", figures["off_path_ns_per_turn"]),
            ("share of the off server's p50", f"{share:.5%}"),
        ],
    )
    figures["off_path_share_of_p50"] = share


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    figures = asyncio.run(main_async(args.quick))
    report(figures)
    path = write_result(NAME, figures, quick=args.quick, started=started)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
