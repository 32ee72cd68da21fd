"""What sentence vectors cost a memory search: the dense side at 10k memories.

``.venv/bin/python bench/memory_sentences.py [--quick]``. One scope index (``ScopeIndex``) of
10,000 memories with random unit vectors, holding 0, 1, 3 or 9 sentence vectors per memory (a
Korean call-center store has ~0.5, LongMemEval's long chat turns ~9). Side by side in one run,
for one query: the plain whole-passage product; ``dense_scores``, every sentence row scored (the
search's method until 2026-12-06); and the search's dense list now (``candidate_lists`` in dense
mode: the whole product, its best 200, those re-scored with their sentence rows) against the
dense list as it was built before (every sentence row scored, then ranked), as a ratio.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the server runs (SWITCHBOARD_BLAS_THREADS=1)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench._common import median, parse_args, percentile, print_table, started_at, write_result  # noqa: E402
from servers.memory_server.index import Doc, ScopeIndex  # noqa: E402
from servers.memory_server.ranking import RankOptions, _ranked, base_mask, candidate_lists  # noqa: E402

DIM = 384
AT = datetime(2025, 1, 1, tzinfo=UTC)


def _doc(i: int) -> Doc:
    return Doc(
        id=f"m{i}", text="t", agent_id=None, run_id=None, kind="message", categories=[], meta={}, slot=None,
        slot_values={}, source="text", status="active", content_hash=f"h{i}", tokens=["t"], observed_at=AT,
        created_at=AT, updated_at=AT, valid_to=None, superseded_by=None, vector_model="bench",
        observed_ts=AT.timestamp(), created_ts=AT.timestamp(),
    )  # fmt: skip


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    m = rng.standard_normal((rows, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _index(memories: int, sentences: int, rng: np.random.Generator) -> ScopeIndex:
    index = ScopeIndex("bench", "c", DIM)
    for i in range(memories):
        index.upsert(_doc(i), _unit(rng, 1 + sentences))
    return index


def _old_dense_list(index: ScopeIndex, query: np.ndarray, opts: RankOptions) -> list[tuple[int, float]]:
    """The search's dense list until 2026-12-06: every sentence row scored, then ranked."""
    n, depth = index.size, max(50, opts.top_k * 5)
    shifted = np.where(index.has_vec[:n], index.dense_scores(query) + 2.0, 0.0)
    return [(p, float(shifted[p]) - 2.0) for p in _ranked(index, shifted, base_mask(index, opts), opts, depth)]


def _times(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    memories, repeats = (2_000, 50) if args.quick else (10_000, 200)
    rng = np.random.default_rng(7)
    query = _unit(rng, 1)[0]
    metrics: dict[str, float] = {"memories": memories}
    rows = []
    dense_mode = RankOptions(top_k=10, mode="dense")
    for sentences in (0, 1, 3, 9):
        index = _index(memories, sentences, rng)
        whole = index.vectors[: index.size]
        base = _times(lambda w=whole: w @ query, repeats)
        one = _times(lambda i=index: i.dense_scores(query), repeats)
        listed = _times(lambda i=index: candidate_lists(i, [], query, dense_mode), repeats)
        old = _times(lambda i=index: _old_dense_list(i, query, dense_mode), repeats)
        key = f"s{sentences}"
        metrics |= {
            f"{key}_whole_product_p50_ms": median(base),
            f"{key}_dense_scores_p50_ms": median(one),
            f"{key}_dense_scores_p95_ms": percentile(one, 95),
            f"{key}_vs_whole_product_p50": median(one) / median(base),
            f"{key}_search_dense_list_p50_ms": median(listed),
            f"{key}_search_dense_list_p95_ms": percentile(listed, 95),
            f"{key}_search_dense_list_vs_whole_product_p50": median(listed) / median(base),
            f"{key}_old_dense_list_p50_ms": median(old),
            f"{key}_search_dense_list_vs_old_p50": median(listed) / median(old),
        }
        rows.append(
            [sentences, index.sentence_rows, median(base), median(one), median(old), median(listed),
             percentile(listed, 95), median(listed) / median(old)]
        )  # fmt: skip
    print_table(
        f"Dense similarity pass over {memories:,} memories (ms, one BLAS thread)",
        ["sentences / memory", "sentence rows", "whole product p50", "every sentence row p50",
         "dense list before p50", "dense list now p50", "now p95", "now / before"],
        rows,
    )  # fmt: skip
    print(f"wrote {write_result('memory_sentences', metrics, quick=args.quick, started=started)}")


if __name__ == "__main__":
    main()
