"""Fusing ranked lists from lexical and dense retrieval.

- :func:`weighted_rrf` — reciprocal-rank fusion, ``sum_i w_i / (k + rank_i)``: robust to score scales;
- :func:`score_fusion` — convex combination of per-list min-max normalised scores.

Each input list is ``[(doc_id, score), ...]`` best first; the output has the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]

RRF_K = 60


def weighted_rrf(
    lists: Sequence[Ranked], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of ``lists`` with per-list ``weights`` (default all 1.0)."""
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    fused: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        if weight == 0:
            continue
        for rank, (doc_id, _score) in enumerate(ranked, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _minmax(ranked: Ranked) -> dict[str, float]:
    if not ranked:
        return {}
    values = [s for _, s in ranked]
    lo, hi = min(values), max(values)
    span = hi - lo
    return {doc_id: (1.0 if span == 0 else (s - lo) / span) for doc_id, s in ranked}


def score_fusion(lists: Sequence[Ranked], weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores (a document missing from a list scores 0 there)."""
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    fused: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for doc_id, norm in _minmax(ranked).items():
            fused[doc_id] = fused.get(doc_id, 0.0) + weight * norm
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
