"""Hybrid search over an org's KB versions: Korean BM25 fused with dense vectors, with citations.

For each searched (KB, version): BM25 over the version's kiwi tokens, and the version's nearest
texts by cosine: from the version's vector file once it is complete (exact, no vector store;
:mod:`servers.kb_server.densefile`), else a Chroma query on the KB's collection whose hits are
kept only when their text belongs to that version. Lexical lists
of several KBs merge by BM25 score, dense lists by cosine similarity; the two merged lists are
fused with weighted reciprocal-rank fusion. When fewer than half of the query's terms occur in
the searched text (e.g. a Korean question over English documents) the lexical list is noise and
is left out, and when BM25's best chunk holds few of the query's terms (a question in other
words than the document's) it counts for less. BM25 runs first: when its list is decisive on
its own (one clear winner, known terms, most of them in the winner) the query is not embedded
at all, which is most of the cost of a search on CPU; otherwise the query is embedded (repeated
queries reuse an LRU of query vectors) and the vector store queried. If the embedder fails
(e.g. the OpenAI API is down) the search returns keyword results instead of an error. A version
whose vectors are not all computed yet is searched by keywords only: a half-embedded version
would otherwise rank its embedded passages above the rest, and answers would depend on how far
the background embedder happened to be.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import invalid
from servers.kb_server import sentences
from servers.kb_server.densefile import DenseMatrix, dense_files, serves
from servers.kb_server.indexes import VersionIndex, version_index
from servers.kb_server.lookups import fetch_chunks, resolve_targets
from servers.kb_server.vectors import kb_collection_name, progress_counts
from servers.retrieval.chroma import get_client
from servers.retrieval.chroma import is_open as chroma_is_open
from servers.retrieval.embedding import Embedder, get_embedder
from servers.retrieval.fusion import lexical_is_decisive, weighted_rrf
from servers.retrieval.query_vectors import query_vectors

log = logging.getLogger("switchboard.kb")
MAX_QUERY_CHARS = 1000
MAX_TOP_K = 50


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Fusion knobs, chosen by leave-one-set-out cross-validation across KorQuAD, SQuAD (each split
    by the question's word overlap with its passage) and a Korean chat set (bench/kbquality.py,
    docs/kb.md), never on one set.

    Korean BM25 over kiwi morphemes is a strong signal for Korean questions, English BM25 a weaker
    one next to e5: the lexical list's RRF weight depends on the query's script. Whatever the
    script, BM25 is only as good as its winner's hold on the question: when the best chunk holds
    fewer than ``weak_lexical_coverage`` of the query's distinct terms (a question asked in other
    words than the document's), the lexical weight is multiplied by ``weak_lexical_factor``.
    The dense side is skipped only when BM25's best hit leads the second by ``skip_dense_gap`` of
    its score, ``skip_dense_share`` of the query's terms are known AND the winner holds
    ``skip_dense_coverage`` of them (a confident winner on one rare shared word is the typical
    wrong skip); ``skip_dense_gap > 1`` turns skipping off.
    """

    candidates: int = 50
    lexical_weight_hangul: float = 1.5
    lexical_weight_other: float = 0.5
    dense_weight: float = 1.0
    rrf_k: int = 5
    min_vocab_share: float = 0.5
    skip_dense_gap: float = 0.3
    skip_dense_share: float = 0.8
    skip_dense_coverage: float = 1.0
    weak_lexical_coverage: float = 0.5
    weak_lexical_factor: float = 0.5


DEFAULT_FUSION = FusionConfig()


def validate_query(query: Any) -> str | None:
    """The cleaned query; None when it has no letters or digits (→ no hits); errors when unusable."""
    from servers.retrieval.korean import clean

    if not isinstance(query, str):
        raise invalid("query must be a string")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("query contains invalid Unicode (lone surrogates)") from None
    if len(query) > MAX_QUERY_CHARS:
        raise invalid(f"query is too long ({len(query)} characters): at most {MAX_QUERY_CHARS}")
    cleaned = " ".join(clean(query).split())
    if not cleaned:
        raise invalid("query is empty: ask a question or give keywords")
    if not any(ch.isalnum() for ch in cleaned):
        return None
    return cleaned


class _Collections:
    """Chroma collections and their sizes, cached for a few seconds (a lookup is a round trip)."""

    def __init__(self, ttl: float = 3.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str], tuple[float, Any, int]] = {}
        self._lock = threading.Lock()

    def cached(self, name: str) -> tuple[Any, int] | None:
        """The collection and its size if looked up less than ``ttl`` seconds ago (no round trip)."""
        from servers.retrieval.chroma import client_key

        with self._lock:
            hit = self._items.get((client_key(), name))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1], hit[2]
        return None

    def get(self, name: str) -> tuple[Any, int]:
        from servers.retrieval.chroma import client_key

        found = self.cached(name)
        if found is not None:
            return found
        key = (client_key(), name)
        try:
            collection = get_client().get_collection(name=name)
            count = int(collection.count())
        except Exception:
            collection, count = None, 0
        with self._lock:
            self._items[key] = (time.monotonic(), collection, count)
        return collection, count

    async def lookup(self, name: str) -> tuple[Any, int]:
        """:meth:`cached`, else :meth:`get` in a worker thread (the lookup is a round trip)."""
        found = self.cached(name)
        return found if found is not None else await asyncio.to_thread(self.get, name)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


collections = _Collections()


class _Completeness:
    """Whether every text of a KB version has its vector of ``model_id`` (an embedding model, or a
    sentence marker), remembered once true (versions never change), rechecked at most every
    ``ttl`` seconds while the embedder is still at work."""

    def __init__(self, ttl: float = 3.0) -> None:
        self.ttl = ttl
        self._done: set[tuple[str, str, int, str]] = set()
        self._checked: dict[tuple[str, str, int, str], float] = {}

    async def complete(self, org_id: str, kb_id: str, version: int, model_id: str) -> bool:
        key = (org_id, kb_id, version, model_id)
        if key in self._done:
            return True
        last = self._checked.get(key)
        if last is not None and time.monotonic() - last < self.ttl:
            return False
        done, total = await progress_counts(org_id, kb_id, version, model_id, only=model_id)
        self._checked[key] = time.monotonic()
        if total and done >= total:
            self._done.add(key)
            self._checked.pop(key, None)
            return True
        return False

    def clear(self) -> None:
        self._done.clear()
        self._checked.clear()


completeness = _Completeness()


def _dense_hits(source: Any, count: int, qvec: np.ndarray, index: VersionIndex, want: int) -> list[tuple[str, float]]:
    """Chunk ids of ``index``'s version nearest to ``qvec``: from the version's matrix file, or
    from its Chroma collection (``count`` records), widening the query if old texts crowd it."""
    if isinstance(source, DenseMatrix):
        return source.top(qvec, index, want)
    collection = source
    n = min(count, max(want, 10))
    while True:
        result = collection.query(query_embeddings=[qvec.tolist()], n_results=n, include=["distances"])
        ids, distances = result["ids"][0], result["distances"][0]
        hits: list[tuple[str, float]] = []
        for sha, dist in zip(ids, distances, strict=True):
            for chunk_id in index.sha_to_chunks.get(sha, ()):
                hits.append((chunk_id, 1.0 - float(dist)))
        if len(hits) >= want or n >= count:
            return hits[:want]
        n = min(count, n * 4)


VectorLookup = Callable[[Sequence[str]], tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]]


def _store_lookup(collection: Any, sentence_collection: Any) -> VectorLookup:
    """Whole and sentence vectors of given texts read from Chroma (before the vector file exists)."""

    def lookup(shas: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        got = collection.get(ids=list(shas), include=["embeddings"])
        whole = {sha: np.asarray(v, dtype=np.float32) for sha, v in zip(got["ids"], got["embeddings"], strict=True)}
        return whole, sentences.read_store(sentence_collection, shas)

    return lookup


@dataclass(slots=True)
class _DenseTarget:
    """Where one searched version's vectors come from."""

    source: Any  # DenseMatrix (its file) or a Chroma collection
    count: int  # records in the collection (0 for a file)
    index: VersionIndex
    lookup: VectorLookup | None  # vectors for the sentence re-scoring; None: whole vectors only


def _dense_list(
    target: _DenseTarget, qvec: np.ndarray, want: int, lexical: Sequence[tuple[str, float]]
) -> list[tuple[str, float]]:
    """The version's dense list: nearest whole vectors, then — with sentence vectors — those
    candidates and BM25's re-scored by whole and best sentence (:func:`sentences.rescore`)."""
    hits = _dense_hits(target.source, target.count, qvec, target.index, want)
    if target.lookup is None:
        return hits
    candidates = [c for c, _ in hits] + [c for c, _ in lexical if c in target.index.chunk_to_sha]
    index = target.index
    return sentences.rescore(qvec, index.chunk_to_sha, index.sha_to_chunks, candidates, target.lookup, want)


_HANGUL = re.compile(r"[\uac00-\ud7a3\u3130-\u318f]")


def is_hangul_query(query: str) -> bool:
    """True when at least half of the query's letters are Hangul."""
    letters = [ch for ch in query if ch.isalpha()]
    return bool(letters) and len(_HANGUL.findall(query)) * 2 >= len(letters)


def fuse(
    lexical: Sequence[tuple[str, float]],
    dense: Sequence[tuple[str, float]],
    vocabulary_share: float,
    config: FusionConfig = DEFAULT_FUSION,
    *,
    hangul: bool = True,
    top_coverage: float = 1.0,
) -> list[tuple[str, float]]:
    """Weighted RRF of the lexical and dense lists, scores scaled so 1.0 = first in every list.

    The lexical list is dropped when fewer than ``config.min_vocab_share`` of the query's terms
    occur in the searched text (cross-lingual queries), as long as there is a dense list. Its
    weight is multiplied by ``config.weak_lexical_factor`` when BM25's best chunk holds fewer than
    ``config.weak_lexical_coverage`` of the query's terms (``top_coverage``): a question asked in
    other words than the document's, where BM25's order is mostly noise.
    """
    use_lexical = bool(lexical) and (not dense or vocabulary_share >= config.min_vocab_share)
    ranked_lists: list[Sequence[tuple[str, float]]] = []
    weights: list[float] = []
    if use_lexical:
        ranked_lists.append(lexical)
        weight = config.lexical_weight_hangul if hangul else config.lexical_weight_other
        weak = bool(dense) and top_coverage < config.weak_lexical_coverage
        weights.append(weight * config.weak_lexical_factor if weak else weight)
    if dense:
        ranked_lists.append(dense)
        weights.append(config.dense_weight)
    if not ranked_lists:
        return []
    fused = weighted_rrf(ranked_lists, weights, k=config.rrf_k)
    best = sum(w / (config.rrf_k + 1) for w in weights)  # summed as weighted_rrf does: first in all → 1.0
    return [(cid, min(1.0, score / best)) for cid, score in fused]


def skips_dense(
    lexical: Sequence[tuple[str, float]],
    vocabulary_share: float,
    config: FusionConfig,
    *,
    top_coverage: float = 1.0,
) -> bool:
    """True when ``config`` trusts this lexical list alone (no query embedding, no vector query).

    With ``config.skip_dense_coverage`` > 0 the BM25 winner must also contain that share of the
    query's terms (``top_coverage``): one rare shared word can make a confident but wrong winner
    for a question phrased in other words.
    """
    if not lexical_is_decisive(
        lexical, vocabulary_share, min_gap=config.skip_dense_gap, min_share=config.skip_dense_share
    ):
        return False
    if config.skip_dense_coverage <= 0:
        return True
    return top_coverage >= config.skip_dense_coverage


def term_coverage(indexes: Sequence[VersionIndex], tokens: Sequence[str], chunk_id: str) -> float:
    """The share of the query's distinct terms that occur in chunk ``chunk_id`` (read off BM25's matrix)."""
    for index in indexes:
        ids = index.bm25.ids
        at = bisect.bisect_left(ids, chunk_id)  # version indexes list their chunks by id
        if at >= len(ids) or ids[at] != chunk_id:
            at = ids.index(chunk_id) if chunk_id in ids else -1
        if at >= 0:
            return index.bm25.coverage(tokens, at)
    return 0.0


def _merge(lists: Sequence[Sequence[tuple[str, float]]], limit: int) -> list[tuple[str, float]]:
    merged = [hit for ranked in lists for hit in ranked]
    merged.sort(key=lambda h: (-h[1], h[0]))
    return merged[:limit]


async def hybrid_rank(
    org_id: str,
    query: str,
    targets: Sequence[Mapping[str, Any]],
    *,
    limit: int,
    embedder: Embedder | None = None,
    config: FusionConfig = DEFAULT_FUSION,
) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """Fused ``[(chunk_id, score 0..1)]`` for a cleaned query, and each hit's cosine similarity.

    BM25 runs first; the query is embedded (and the vector store queried) only when the lexical
    list is not decisive on its own (see :class:`FusionConfig`).
    """
    from servers.retrieval.korean import tokenize
    from servers.retrieval.threads import limit_blas_threads

    limit_blas_threads()
    embedder = embedder or get_embedder()
    indexes = await asyncio.gather(*(version_index(org_id, t["id"], t["version"]) for t in targets))
    tokens = await asyncio.to_thread(tokenize, query)
    lexical = _merge([ix.bm25.search(tokens, config.candidates) for ix in indexes], config.candidates)
    share = max((ix.vocabulary_share(tokens) for ix in indexes), default=0.0)
    hangul = is_hangul_query(query)
    top_coverage = term_coverage(indexes, tokens, lexical[0][0]) if lexical else 0.0
    if skips_dense(lexical, share, config, top_coverage=top_coverage):
        return fuse(lexical, [], share, config, hangul=hangul)[:limit], {}
    dense_targets: list[_DenseTarget] = []
    model_id = embedder.model_id
    for target, index in zip(targets, indexes, strict=True):
        # A half-embedded version would rank its embedded passages above the rest: until every
        # text of the version has its vector, that version is searched by keywords only; until
        # every text has its sentence vectors, by whole vectors only.
        kb_id, version = target["id"], int(target["version"])
        if not await completeness.complete(org_id, kb_id, version, model_id):
            continue
        with_sentences = sentences.enabled() and await completeness.complete(
            org_id, kb_id, version, sentences.marker(model_id)
        )
        matrix = await asyncio.to_thread(dense_files.get, index, model_id)  # written once both are complete
        lookup = matrix.vectors if matrix is not None and with_sentences else None
        if matrix is not None and serves(matrix, store_open=chroma_is_open()):
            dense_targets.append(_DenseTarget(matrix, 0, index, lookup))  # the version's own vectors on disk
            continue
        collection, count = await collections.lookup(kb_collection_name(org_id, kb_id, model_id))
        if collection is None or count <= 0:
            continue
        sentence_collection = None
        if with_sentences:
            sentence_collection, _ = await collections.lookup(
                sentences.sentence_collection_name(org_id, kb_id, model_id)
            )
            if lookup is None and sentence_collection is not None:
                lookup = _store_lookup(collection, sentence_collection)
        dense_targets.append(_DenseTarget(collection, count, index, lookup))
        exportable = sentence_collection is not None if sentences.enabled() else True
        if matrix is None and exportable:  # the next searches read the file
            dense_files.export_later(collection, index, model_id, sentence_collection)
    dense: list[tuple[str, float]] = []
    qvec = None
    if dense_targets:
        try:
            qvec = await asyncio.to_thread(query_vectors.get, embedder, query)
        except Exception as exc:  # a dead embedding API must not take keyword search down with it
            log.warning("query embedding failed (%s): keyword results only", type(exc).__name__)
    if qvec is not None:
        lists = await asyncio.gather(
            *(asyncio.to_thread(_dense_list, t, qvec, config.candidates, lexical) for t in dense_targets)
        )
        dense = _merge(lists, config.candidates)
    return fuse(lexical, dense, share, config, hangul=hangul, top_coverage=top_coverage)[:limit], dict(dense)


async def search(
    org_id: str,
    query: Any,
    *,
    top_k: int = 5,
    kb_refs: Sequence[str] | None = None,
    pins: Mapping[str, int] | None = None,
    embedder: Embedder | None = None,
    config: FusionConfig = DEFAULT_FUSION,
    targets: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Citations for ``query`` from the org's active KBs (or the pinned versions), best first.

    ``targets`` (from :func:`resolve_targets`) may be passed when the caller already has them.
    """
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise invalid(f"top_k must be between 1 and {MAX_TOP_K}")
    cleaned = validate_query(query)
    if cleaned is None:
        return []
    if targets is None:
        targets = await resolve_targets(org_id, kb_refs, pins)
    if not targets:
        return []
    ranked, similarity = await hybrid_rank(org_id, cleaned, targets, limit=top_k, embedder=embedder, config=config)
    rows = await fetch_chunks(org_id, [cid for cid, _ in ranked])
    by_kb = {t["id"]: t for t in targets}
    hits = []
    for chunk_id, score in ranked:
        row = rows.get(chunk_id)
        if row is None or row["kb_id"] not in by_kb:
            continue
        target = by_kb[row["kb_id"]]
        hits.append(
            {
                "kb_id": row["kb_id"],
                "kb_name": target["name"],
                "version": target["version"],
                "doc_id": row["doc_id"],
                "title": row["title"],
                "chunk_id": chunk_id,
                "page": row["page"],
                "section": row["section"],
                "score": round(score, 4),
                "similarity": round(similarity[chunk_id], 4) if chunk_id in similarity else None,
                "text": row["text"],
            }
        )
    return hits
