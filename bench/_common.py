"""Helpers every benchmark shares: arguments, percentiles, process CPU, a Rich table, the JSON result.

Conventions (DESIGN.md): ``bench/<name>.py [--quick]`` prints a table and writes a flat JSON
object of metric → number plus ``name``, ``started_at`` and ``quick`` to
``bench/results/<name>.json``. Comparisons run side by side in one run and are reported as ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = ROOT / ".venv" / "bin"

if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ on the path, not the repo
    sys.path.insert(0, str(ROOT))


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The standard benchmark arguments: ``--quick`` (under a minute)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="reduced run that finishes in under a minute")
    return parser.parse_args(argv)


def started_at() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else math.nan


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0."""
    return numerator / denominator if denominator else math.nan


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


def child_pids(parent: int | None = None) -> list[int]:
    """Direct children of ``parent`` (default: this process), oldest first."""
    parent = os.getpid() if parent is None else parent
    found: list[tuple[int, int]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            found.append((int(fields[19]), int(entry)))  # start time, pid
    return [pid for _, pid in sorted(found)]


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold cyan")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*[fmt(v) for v in row])
    Console().print(table)


def write_result(name: str, metrics: dict[str, Any], *, quick: bool, started: str) -> Path:
    """Write ``bench/results/<name>.json``: flat metric → number, plus name, started_at, quick."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {"name": name, "started_at": started, "quick": quick}
    for key, value in metrics.items():
        if isinstance(value, float) and math.isnan(value):
            value = None
        body[key] = round(value, 6) if isinstance(value, float) else value
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
