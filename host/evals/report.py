"""Eval reports: written as JSON, printed as Rich tables, two runs compared side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.atomicwrite import write_atomic
from core.errors import invalid
from core.jsonload import JSONInputError, loads
from core.settings import get_settings


def reports_dir() -> Path:
    path = get_settings().ensure_home() / "evals"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_report(report: dict[str, Any], path: Path | None = None) -> Path:
    """Write the report as JSON, personal data masked: a pack's customer lines (often copied from
    real calls) and the checks quoting them read out cards, phones, e-mails; the host stores those
    masked, so the report does too (``core.redaction.redact``, as every stored payload)."""
    from core.redaction import redact

    path = path or reports_dir() / f"{report['run_id']}.json"
    write_atomic(path, json.dumps(redact(report).value, ensure_ascii=False, indent=1, default=str))
    return path


def _report_of_run(ref: str) -> Path:
    """The report of a run id, or of its first 8+ characters as tables print it (core/ids.py)."""
    from core.ids import pick

    folder = reports_dir()
    exact = folder / f"{ref}.json"
    if exact.is_file():
        return exact
    hint = f"reports are in {folder}; pass a report path or a run id from `switchboard eval run`"
    return folder / f"{pick(ref, (p.stem for p in folder.glob('*.json')), what='eval report', hint=hint)}.json"


def read_report(ref: str) -> dict[str, Any]:
    """A report file path, or a run id printed by ``eval run`` (looked up in $SWITCHBOARD_HOME/evals)."""
    path = Path(ref)
    if not path.is_file():
        path = _report_of_run(ref)
    try:
        data = loads(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, JSONInputError) as err:
        raise invalid(f"{path} is not an eval report: {getattr(err, 'reason', err)}") from None
    if not isinstance(data, dict) or "summary" not in data or "results" not in data:
        raise invalid(f"{path} is not an eval report (no summary/results)")
    return data


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def category_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    s = report["summary"]
    rows = [(cat, str(v["runs"]), str(v["passed"]), pct(v["pass_rate"])) for cat, v in s["by_category"].items()]
    rows.append(("all", str(s["runs"]), str(s["passed"]), pct(s["pass_rate"])))
    return rows


def failure_lines(result: dict[str, Any], *, transcript: bool = True) -> list[str]:
    """The expected-vs-actual diff of a failed scenario, then its transcript."""
    lines = [f"{result['id']} (trial {result['trial']}, {result['category']}): {result['title']}"]
    if result.get("error"):
        lines.append(f"  error: {result['error']}")
    for c in result.get("checks") or []:
        if not c["ok"]:
            actual = json.dumps(c["actual"], ensure_ascii=False, default=str)[:300]
            lines.append(
                f"  ✗ {c['check']}: expected {json.dumps(c['expected'], ensure_ascii=False)} · actual {actual}"
            )
    if transcript:
        for item in result.get("transcript") or []:
            who = "고객" if item["role"] == "customer" else "상담봇"
            text = item.get("text") or f"[{item.get('button')}]"
            lines.append(f"    {who}: {text[:240]}")
    return lines


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, ...]]:
    sa, sb = a["summary"], b["summary"]
    cats = sorted(set(sa["by_category"]) | set(sb["by_category"]))
    rows = []
    for cat in [*cats, "all"]:
        ra = sa if cat == "all" else sa["by_category"].get(cat)
        rb = sb if cat == "all" else sb["by_category"].get(cat)
        va = ra["pass_rate"] if ra else None
        vb = rb["pass_rate"] if rb else None
        delta = f"{(vb - va) * 100:+.1f} pt" if va is not None and vb is not None else ""
        rows.append((cat, pct(va) if va is not None else "—", pct(vb) if vb is not None else "—", delta))
    for k in sorted(set(sa["pass_hat_k"]) | set(sb["pass_hat_k"]), key=int):
        va, vb = sa["pass_hat_k"].get(k), sb["pass_hat_k"].get(k)
        delta = f"{(vb - va) * 100:+.1f} pt" if va is not None and vb is not None else ""
        rows.append((f"pass^{k}", pct(va) if va is not None else "—", pct(vb) if vb is not None else "—", delta))
    return rows


def changed_scenarios(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Scenarios whose outcome differs between the runs (all trials passed → ✓)."""

    def outcome(report: dict[str, Any]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for r in report["results"]:
            out[r["id"]] = out.get(r["id"], True) and bool(r["passed"])
        return out

    oa, ob = outcome(a), outcome(b)
    mark = {True: "pass", False: "FAIL", None: "—"}
    return [
        (sid, mark[oa.get(sid)], mark[ob.get(sid)]) for sid in sorted(set(oa) | set(ob)) if oa.get(sid) != ob.get(sid)
    ]
