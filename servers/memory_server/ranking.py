"""Ranking memories: BM25 over Korean morphemes + dense e5 similarity, fused, optionally time-aware.

The lexical and dense lists are each cut to ``depth`` candidates that pass the filters, fused with
weighted reciprocal-rank fusion (:func:`servers.retrieval.fusion.weighted_rrf`, shared with the KB
server), then (optionally) blended with recency. A query whose terms are mostly unknown to the
scope (e.g. an English question over Korean memories) is answered by the dense list alone, since a
lexical list of noise would drag good dense hits down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from servers.memory_server.filters import MemoryFilters, matches, ts
from servers.memory_server.index import Doc, ScopeIndex
from servers.memory_server.subqueries import PART_WEIGHT
from servers.memory_server.timeframe import Window
from servers.retrieval.fusion import score_fusion, weighted_rrf

# Chosen by cross-validation across three data sets at once (bench/memory.py --parts quality:
# memory_ko, LongMemEval oracle sample, korquad_chat), over RRF k in {1,2,5,10,20,60} x lexical
# weight in {.25,.5,.75,1,1.5,2} and min-max convex combinations (lexical .1-.9). The best mean
# recall@10 over the sets is RRF k=5 with the lexical list at half weight (.978 / .757 / .981);
# leaving each set out in turn picks it again for memory_ko and korquad_chat, and convex .2 for
# LongMemEval (.742 there, still above both halves). Re-checked on five sets (korquad_long and
# squad_long added, 2026-12-05): less than .001 behind the best mean (RRF k=1, equal weights), no setting
# best on every set, so unchanged. A small k lets the first few dense hits lead,
# which paraphrased questions need, while a lexical hit near the top still lifts names and dates.
FUSION_KIND = "rrf"
RRF_K = 5
LEXICAL_WEIGHT = 0.5
DENSE_WEIGHT = 1.0
MIN_KNOWN_FRACTION = 0.5
RECENCY_HALF_LIFE_DAYS = 30.0
PART_DEPTH = 50  # ranks of each ranking that count when a compound question's parts join it
# the list of memories observed when the question says ("two weeks ago"), relative to the
# heaviest other list: as much say as the dense list; not fitted (docs/memory.md)
WINDOW_WEIGHT = 1.0


@dataclass(slots=True)
class Hit:
    doc: Doc
    score: float
    lexical_rank: int | None
    dense_rank: int | None


@dataclass(slots=True)
class RankOptions:
    top_k: int = 5
    filters: MemoryFilters | None = None
    include_superseded: bool = False
    as_of: float | None = None  # epoch seconds: memories valid at that time
    recency_weight: float = 0.0
    mode: str = "hybrid"  # hybrid | lexical | dense
    reference: float | None = None  # epoch seconds the question is asked at ("two weeks ago" counts from it)


def base_mask(index: ScopeIndex, opts: RankOptions) -> np.ndarray:
    """Positions eligible before per-document filters: alive, current (or valid at ``as_of``), scope ids."""
    n = index.size
    mask = index.alive[:n].copy()
    if opts.as_of is not None:
        mask &= (index.observed[:n] <= opts.as_of) & (index.valid_to[:n] > opts.as_of)
    elif not opts.include_superseded:
        mask &= index.active[:n]
    f = opts.filters
    if f is not None:
        if f.agent_id is not None:
            mask &= index.agent_code[:n] == index.code(f.agent_id)
        if f.run_id is not None:
            mask &= index.run_code[:n] == index.code(f.run_id)
        if f.observed_after is not None:
            mask &= index.observed[:n] >= ts(f.observed_after)
        if f.observed_before is not None:
            mask &= index.observed[:n] <= ts(f.observed_before)
    return mask


def _needs_doc_check(filters: MemoryFilters | None) -> bool:
    if filters is None:
        return False
    return bool(
        filters.metadata or filters.categories or filters.kinds or filters.created_after or filters.created_before
    )


def _ranked(index: ScopeIndex, scores: np.ndarray, mask: np.ndarray, opts: RankOptions, depth: int) -> list[int]:
    """Best positions by ``scores`` among ``mask`` (positive scores only), filtered, at most ``depth``."""
    eligible = np.flatnonzero(mask & (scores > 0))
    if eligible.size == 0:
        return []
    check = _needs_doc_check(opts.filters)
    take = eligible.size if check else min(depth, eligible.size)
    if take < eligible.size:
        part = np.argpartition(-scores[eligible], take - 1)[:take]
        eligible = eligible[part]
    order = eligible[np.argsort(-scores[eligible], kind="stable")]
    if not check:
        return [int(p) for p in order[:depth]]
    out: list[int] = []
    for pos in order:
        doc = index.docs[int(pos)]
        if doc is not None and matches(opts.filters, doc):
            out.append(int(pos))
            if len(out) >= depth:
                break
    return out


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the lexical and dense lists are combined.

    ``rrf``: ``w_lex / (k + rank_lex) + w_dense / (k + rank_dense)``; ``convex``: ``w_lex * lex +
    w_dense * dense`` over min-max normalised scores of each list (a document missing from a list
    scores 0 there).
    """

    kind: str = "rrf"
    k: int = 60
    w_lex: float = 1.0
    w_dense: float = 1.0

    def label(self) -> str:
        if self.kind == "rrf":
            return f"rrf k={self.k} lex={self.w_lex:g}"
        return f"convex lex={self.w_lex:g}"


DEFAULT_FUSION = Fusion(FUSION_KIND, RRF_K, LEXICAL_WEIGHT, DENSE_WEIGHT)


def candidate_lists(
    index: ScopeIndex,
    query_tokens: list[str],
    query_vector: np.ndarray | None,
    opts: RankOptions,
    whole: np.ndarray | None = None,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """The lexical and dense candidate lists ``[(position, score)]``, best first, each cut to ``depth``.

    A query whose terms are mostly unknown to the scope gets no lexical list in hybrid mode.
    ``whole``: the query's similarity to every whole passage, when the caller has it already."""
    n = index.size
    if n == 0:
        return [], []
    depth = max(50, opts.top_k * 5)
    mask = base_mask(index, opts)
    use_dense = opts.mode in ("hybrid", "dense") and query_vector is not None and bool(index.has_vec[:n].any())
    use_lexical = opts.mode in ("hybrid", "lexical") and bool(query_tokens)
    if use_lexical and use_dense and index.lex.known_fraction(query_tokens) < MIN_KNOWN_FRACTION:
        use_lexical = False
    lexical: list[tuple[int, float]] = []
    dense: list[tuple[int, float]] = []
    if use_lexical:
        scores = index.lex.scores(query_tokens, n)
        lexical = [(p, float(scores[p])) for p in _ranked(index, scores, mask, opts, depth)]
    if use_dense:
        assert query_vector is not None
        dense = _dense_list(index, query_vector, mask, opts, depth, also=[p for p, _ in lexical], whole=whole)
    return lexical, dense


def _dense_list(
    index: ScopeIndex,
    query_vector: np.ndarray,
    mask: np.ndarray,
    opts: RankOptions,
    depth: int,
    also: Sequence[int] = (),
    whole: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """The ``depth`` memories of ``mask`` nearest the query, scored with their sentence vectors.

    The whole passages' nearest (four times the depth) and the memories in ``also`` (the lexical
    list's) are scored with their sentence vectors too (ScopeIndex.rescore): reading every sentence
    row of a store of long turns (9 per memory) cost 12 ms at 10k memories; these ~250 candidates
    give the same recall on the five quality sets (twice the depth lost .004 on LongMemEval) at a
    fraction of the cost (docs/memory.md, bench/memory_sentences.py).
    """
    n = index.size
    whole = index.whole_scores(query_vector) if whole is None else whole
    # shift to positive so _ranked keeps every document with a vector
    shifted = np.where(index.has_vec[:n], whole + 2.0, 0.0)
    if not index.has_sentences:  # nothing to re-score: the whole passages' order is the list
        return [(p, float(shifted[p]) - 2.0) for p in _ranked(index, shifted, mask, opts, depth)]
    pool = _ranked(index, shifted, mask, opts, 4 * depth)
    seen = set(pool)
    pool += [p for p in also if p not in seen and index.has_vec[p] and mask[p]]
    if not pool:
        return []
    scores = index.rescore(pool, whole, query_vector)
    order = np.argsort(-scores, kind="stable")[:depth]
    return [(pool[int(i)], float(scores[int(i)])) for i in order]


def window_list(
    index: ScopeIndex,
    query_tokens: list[str],
    query_vector: np.ndarray | None,
    opts: RankOptions,
    window: Window,
    whole: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """The memories observed in the ``window`` a question names (``timeframe.py``), best by
    meaning (by keyword without vectors): one more list for the fusion, never a filter."""
    n = index.size
    if n == 0:
        return []
    depth = max(50, opts.top_k * 5)
    observed = index.observed[:n]
    mask = base_mask(index, opts) & (observed >= window.start) & (observed <= window.end)
    if not mask.any():
        return []
    if opts.mode != "lexical" and query_vector is not None and bool(index.has_vec[:n].any()):
        return _dense_list(index, query_vector, mask, opts, depth, whole=whole)
    if opts.mode == "dense" or not query_tokens:
        return []
    scores = index.lex.scores(query_tokens, n)
    return [(p, float(scores[p])) for p in _ranked(index, scores, mask, opts, depth)]


def fuse(
    lexical: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    fusion: Fusion,
    timed: list[tuple[int, float]] | None = None,
) -> dict[int, float]:
    """Fused scores by position, scaled so a document first in every list scores 1. ``timed``: the
    memories observed when the question says (:func:`window_list`), at ``WINDOW_WEIGHT``."""
    lists = [lexical, dense]
    weights = [fusion.w_lex if lexical else 0.0, fusion.w_dense if dense else 0.0]
    if timed and (lexical or dense):
        lists.append(timed)
        weights.append(WINDOW_WEIGHT * max(weights))
    total = sum(weights)
    if total == 0:
        return {}
    if fusion.kind == "convex":
        fused = score_fusion(lists, weights)  # type: ignore[arg-type] - positions as ids
        return {int(p): s / total for p, s in fused}
    fused = weighted_rrf(lists, weights, k=fusion.k)  # type: ignore[arg-type]
    return {int(p): s * (fusion.k + 1) / total for p, s in fused}


def rank(
    index: ScopeIndex,
    query_tokens: list[str],
    query_vector: np.ndarray | None,
    opts: RankOptions,
    fusion: Fusion = DEFAULT_FUSION,
    parts: Sequence[tuple[list[str], np.ndarray | None]] = (),
    window: Window | None = None,
) -> list[Hit]:
    """The ``top_k`` memories for a query, best first.

    ``parts``: the tokens and vector of each part of a compound question
    (``servers/memory_server/subqueries.py``); their rankings join the whole question's.
    ``window``: the observation times the question names (``timeframe.py``); the memories
    observed then join the fusion as one more list.
    """
    whole = None
    if window is not None and query_vector is not None and index.size and index.has_vec[: index.size].any():
        whole = index.whole_scores(query_vector)  # one product for both dense lists
    lexical, dense = candidate_lists(index, query_tokens, query_vector, opts, whole)
    timed = window_list(index, query_tokens, query_vector, opts, window, whole) if window is not None else None
    scored = fuse(lexical, dense, fusion, timed)
    if parts and scored:
        scored = _with_parts(index, scored, parts, opts, fusion)
    if not scored:
        return []
    lex_rank = {p: r for r, (p, _) in enumerate(lexical, start=1)}
    dense_rank = {p: r for r, (p, _) in enumerate(dense, start=1)}
    if opts.recency_weight > 0:
        scored = _with_recency(index, scored, opts)
    top = sorted(scored.items(), key=lambda item: (-item[1], -index.observed[item[0]]))[: opts.top_k]
    hits = []
    for pos, score in top:
        doc = index.docs[pos]
        if doc is not None:
            hits.append(Hit(doc, round(float(score), 6), lex_rank.get(pos), dense_rank.get(pos)))
    return hits


def _with_parts(
    index: ScopeIndex,
    whole: dict[int, float],
    parts: Sequence[tuple[list[str], np.ndarray | None]],
    opts: RankOptions,
    fusion: Fusion,
) -> dict[int, float]:
    """The whole question's fused ranking and each part's, combined by reciprocal rank (the whole
    at weight 1, each part at ``PART_WEIGHT``), scaled so a memory first everywhere scores 1."""
    rankings = [whole] + [fuse(*candidate_lists(index, tokens, vector, opts), fusion) for tokens, vector in parts]
    lists = [sorted(scored.items(), key=lambda item: -item[1])[:PART_DEPTH] for scored in rankings]
    weights = [1.0] + [PART_WEIGHT] * len(parts)
    fused = weighted_rrf(lists, weights, k=fusion.k)  # type: ignore[arg-type] - positions as ids
    scale = (fusion.k + 1) / sum(weights)
    return {int(pos): score * scale for pos, score in fused}


def _with_recency(index: ScopeIndex, scored: dict[int, float], opts: RankOptions) -> dict[int, float]:
    """Blend relevance with how recently each memory was observed (relative to the newest candidate)."""
    reference = opts.as_of if opts.as_of is not None else max(index.observed[p] for p in scored)
    w = min(max(opts.recency_weight, 0.0), 1.0)
    out = {}
    for pos, score in scored.items():
        age_days = max(0.0, (reference - index.observed[pos]) / 86400.0)
        recency = math.exp(-math.log(2) * age_days / RECENCY_HALF_LIFE_DAYS)
        out[pos] = (1 - w) * score + w * recency
    return out
