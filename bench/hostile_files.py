"""Hostile files through the ingestion worker: the time and peak memory each costs before it is refused.

    .venv/bin/python bench/hostile_files.py [--quick]

Each file of issue 19 is generated (tests/servers/kb/hostile.py) and prepared by the real
ingestion worker (a spawned process under its per-file budget, servers/kb_server/worker.py) with
the default limits. Reported per file: the outcome and the limit that refused it, the wall time
seen by the uploader, and the worker's peak RSS for that file (VmHWM, reset before each file).
The reference is an ordinary 30 KB Korean Markdown document prepared by the same worker; each
hostile file's time is also given as a ratio to it. The full run adds the two budget kills (a
long document over a 1 s wall-time budget, a 600 MB text node past the static limits under a
256 MB memory budget), each of which also costs a worker restart (kiwi reloads, ~6 s).
"""

from __future__ import annotations

import os
import time
from typing import Any

from _common import ROOT, parse_args, print_table, ratio, started_at, write_result

NAME = "hostile_files"


def _normal_doc() -> bytes:
    para = "카드 환불은 영업일 기준 3일이 걸립니다. 계좌 환불은 하루 안에 처리됩니다. 부분 환불은 상담원에게 문의해요. "
    return ("# 환불 정책\n\n" + "\n\n".join(f"## {i}장\n\n" + para * 6 for i in range(40))).encode()


def _run(worker: Any, name: str, data: bytes, limits: Any) -> dict[str, Any]:
    from core.errors import SwitchboardError
    from servers.kb_server.store import UploadItem

    worker.start()  # a restart after a killed file is not the file's cost
    started = time.perf_counter()
    refused = ""
    try:
        worker.prepare(UploadItem(name, data), limits)
    except SwitchboardError as err:
        refused = str(err.details.get("limit") or "text detection").removeprefix("SWITCHBOARD_KB_")
    wall = time.perf_counter() - started
    stats = worker.last
    return {
        "file": name,
        "size_mb": len(data) / 1048576,
        "outcome": stats.outcome if stats else "?",
        "limit": refused,
        "wall_s": wall,
        "peak_rss_mb": stats.peak_rss_mb if stats and stats.peak_rss_mb is not None else float("nan"),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    os.environ.setdefault("SWITCHBOARD_HOME", str(ROOT / ".sbhome" / "bench-hostile"))
    from servers.kb_server.limits import IngestLimits, describe
    from servers.kb_server.store import UploadItem
    from servers.kb_server.worker import IngestWorker
    from tests.servers.kb import hostile

    defaults = IngestLimits()
    worker = IngestWorker()
    t0 = time.perf_counter()
    worker.start()
    start_s = time.perf_counter() - t0
    worker.prepare(UploadItem("warm.md", "# 안내\n\n환불 안내입니다.".encode()), defaults)
    rows = [_run(worker, "normal.md", _normal_doc(), defaults)]
    for name, make in hostile.HOSTILE.items():
        rows.append(_run(worker, name, make(), defaults))
    if not args.quick:
        sentence = "환불은 영업일 기준 삼일 안에 처리되며 카드사 사정에 따라 늦어질 수 있습니다. "
        slow = ("# 안내\n\n" + sentence * 40 + "\n\n") * 150
        rows.append(_run(worker, "over-time.md", slow.encode(), IngestLimits(timeout_s=1.0)))
        loose = IngestLimits(max_decompressed_mb=5000, max_compression_ratio=100000, memory_mb=256)
        rows.append(_run(worker, "over-memory.docx", hostile.huge_text_node_docx(600), loose))
    worker.stop()

    reference = rows[0]["wall_s"]
    figures: dict[str, float] = {"worker_start_s": start_s}
    for row in rows:
        key = row["file"].replace(".", "_").replace("-", "_")
        figures[f"{key}_wall_s"] = row["wall_s"]
        figures[f"{key}_peak_rss_mb"] = row["peak_rss_mb"]
        figures[f"{key}_vs_normal_ratio"] = ratio(row["wall_s"], reference)
    for item in describe():
        figures[f"limit_{item['limit']}"] = float(item["default"])  # type: ignore[arg-type]

    print_table(
        "Per-file limits (defaults; environment variable to change each)",
        ["limit", "default", "variable"],
        [(i["limit"], i["default"], i["env"]) for i in describe()],
    )
    print_table(
        f"Hostile files through the ingestion worker (worker start with kiwi: {start_s:.1f} s)",
        ["file", "size MB", "outcome", "refused by", "wall s", "peak RSS MB", "× normal.md"],
        [
            (
                r["file"],
                f"{r['size_mb']:.2f}",
                r["outcome"],
                r["limit"],
                f"{r['wall_s']:.3f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{ratio(r['wall_s'], reference):.2f}",
            )
            for r in rows
        ],
    )
    path = write_result(NAME, figures, quick=args.quick, started=started)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
