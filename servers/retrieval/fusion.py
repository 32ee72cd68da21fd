"""Fusing ranked lists from lexical and dense retrieval.

- :func:`weighted_rrf` — reciprocal-rank fusion, ``sum_i w_i / (k + rank_i)``: robust to score scales;
- :func:`score_fusion` — convex combination of per-list min-max normalised scores;
- :func:`lexical_is_decisive` — whether a BM25 list is sure enough that dense retrieval can be skipped.

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


def lexical_is_decisive(lexical: Ranked, vocabulary_share: float, *, min_gap: float, min_share: float) -> bool:
    """True when the lexical list alone is trustworthy: its best hit leads the second by at least
    ``min_gap`` of its score and at least ``min_share`` of the query's terms occur in the corpus.

    Questions that reuse the document's words (most customer questions about policies, product
    names, order terms) give one clear BM25 winner; paraphrased or cross-lingual questions give a
    flat list or unknown terms, and need the dense side. Skipping the query embedding for the
    former is the main latency lever on CPU (the embedding costs more than the rest of a search).
    The gap is at most 1, so ``min_gap > 1`` turns skipping off.
    """
    if not lexical or min_gap > 1.0 or vocabulary_share < min_share:
        return False
    top = lexical[0][1]
    second = lexical[1][1] if len(lexical) > 1 else 0.0
    return top > 0 and (top - second) / top >= min_gap
