"""Scores of a run: pass rate per category and language, and pass^k (τ-bench) for k ≤ trials.

pass^k of a scenario run n times with c passes is C(c, k) / C(n, k): the chance that k runs
drawn at random all pass. The pack's pass^k is the mean over its scenarios.
"""

from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Any


def pass_hat_k(results: list[dict[str, Any]], trials: int) -> dict[str, float]:
    by_id: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_id[r["id"]].append(bool(r["passed"]))
    out: dict[str, float] = {}
    for k in range(1, trials + 1):
        scores = [comb(sum(v), k) / comb(len(v), k) for v in by_id.values() if len(v) >= k]
        out[str(k)] = round(sum(scores) / len(scores), 4) if scores else 0.0
    return out


def _rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sum(1 for r in rows if r["passed"])
    return {"runs": len(rows), "passed": passed, "pass_rate": round(passed / len(rows), 4) if rows else 0.0}


def summarise(results: list[dict[str, Any]], trials: int) -> dict[str, Any]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"category": defaultdict(list), "language": defaultdict(list)}
    for r in results:
        groups["category"][r["category"]].append(r)
        groups["language"][r["language"]].append(r)
    covered = [r for r in results if r["offline_covered"]]
    return {
        **_rate(results),
        "by_category": {k: _rate(v) for k, v in sorted(groups["category"].items())},
        "by_language": {k: _rate(v) for k, v in sorted(groups["language"].items())},
        "covered": _rate(covered),
        "not_covered": _rate([r for r in results if not r["offline_covered"]]),
        "covered_failures": sorted({r["id"] for r in covered if not r["passed"]}),
        "pass_hat_k": pass_hat_k(results, trials),
    }
