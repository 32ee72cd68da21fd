"""BM25 over token lists (see :mod:`servers.retrieval.korean` for tokens).

Two indexes with the same scoring (Lucene BM25: ``idf = ln(1 + (N - df + .5) / (df + .5))``,
``tf / (tf + k1 (1 - b + b |d| / avgdl))``) and the same ``search(tokens, k)``:

- :class:`StaticBM25` — bm25s (numpy, sparse matrices) for a corpus built once: fast at 50k
  documents (~1.5 ms/query), saved to and loaded from a directory. Rebuild to change it.
- :class:`IncrementalBM25` — pure Python postings with ``add``/``remove``, one item at a time;
  O(postings of the query terms) per search. The reference the tests hold the others to (the
  memory server's numpy variant is :mod:`servers.memory_server.lexindex`).

Both return ``[(doc_id, score), ...]`` best first, only documents with a positive score.

**Terms.** Both index and query the :func:`terms` of the tokens they are given unless built with
``stem=False``: an English word becomes its Snowball stem (``policies``, ``policy`` → ``polici``;
``delivered``, ``delivering`` → ``deliv``), every other token (Hangul morphemes, numbers, ids,
e-mail addresses) stays as it is. Stored tokens (``kb_chunk.tokens``) stay the tokenizer's output,
so the stemmer can change without rewriting a row; a saved :class:`StaticBM25` records
:data:`TERMS` and a mismatch makes ``load`` fail (the caller rebuilds). The KB's version indexes
stem: over all SQuAD dev questions kiwi BM25 R@5 .921 → .932 and the KB's hybrid .965 → .968
(`squad_low`, the natural-question proxy, .891 → .900), every Korean group unchanged
(`bench/kb.py --parts quality --sample 0`, 2026-12-06). The memory server's own index
(:mod:`servers.memory_server.lexindex`) does not: there stems lifted the lexical half but cost
the hybrid a point on LongMemEval (docs/memory.md).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75
TERMS = "snowball-english-3.1"  # what :func:`terms` does; saved indexes record it
_STEMMERS = threading.local()  # a PyStemmer object is not thread-safe: one per thread


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    return str(stemmer.stemWord(word))


def terms(tokens: Iterable[str]) -> list[str]:
    """The index terms of ``tokens``: English words as their Snowball stems, other tokens unchanged."""
    return [_stem(t) if t.isascii() and t.isalpha() else t for t in tokens]


def _index_terms(tokens: Iterable[str], stem: bool) -> list[str]:
    return terms(tokens) if stem else list(tokens)


class StaticBM25:
    """An immutable BM25 index over ``(doc_id, tokens)`` pairs, backed by bm25s."""

    def __init__(self, ids: Sequence[str], retriever: object | None, stem: bool = True) -> None:
        self.ids = list(ids)
        self._retriever = retriever
        self.stem = stem

    def _terms(self, tokens: Iterable[str]) -> list[str]:
        return _index_terms(tokens, self.stem)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        corpus_tokens: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
        *,
        stem: bool = True,
    ) -> StaticBM25:
        """Index the terms of ``corpus_tokens[i]`` under ``ids[i]`` (the tokens as they are with
        ``stem=False``: the benchmarks' plain baselines)."""
        if len(ids) != len(corpus_tokens):
            raise ValueError("ids and corpus_tokens differ in length")
        if not ids:
            return cls([], None, stem)
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index([_index_terms(t, stem) for t in corpus_tokens], show_progress=False)
        return cls(ids, retriever, stem)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query_tokens: Sequence[str], k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query_tokens``."""
        if self._retriever is None or not query_tokens or k <= 0:
            return []
        vocab = self._retriever.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in self._terms(query_tokens) if t in vocab]
        if not known:
            return []
        scores = self._retriever.get_scores(known)  # type: ignore[attr-defined]
        return _top_k(scores, self.ids, k)

    def vocabulary_share(self, query_tokens: Sequence[str]) -> float:
        """The share of the query's terms that occur anywhere in the index (0.0 for none)."""
        if not query_tokens or self._retriever is None:
            return 0.0
        vocab = self._retriever.vocab_dict  # type: ignore[attr-defined]
        return sum(1 for t in self._terms(query_tokens) if t in vocab) / len(query_tokens)

    def coverage(self, query_tokens: Sequence[str], position: int) -> float:
        """The share of the query's distinct terms that occur in document ``position`` (read off the matrix)."""
        wanted = set(self._terms(query_tokens))
        if self._retriever is None or not wanted or not 0 <= position < len(self.ids):
            return 0.0
        vocab, matrix = self._retriever.vocab_dict, self._retriever.scores  # type: ignore[attr-defined]
        found = 0
        for term in wanted:
            column = vocab.get(term)
            if column is not None:
                start, end = matrix["indptr"][column], matrix["indptr"][column + 1]
                found += bool(np.any(matrix["indices"][start:end] == position))
        return found / len(wanted)

    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` (created); ``load`` reads it back."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        (directory / "terms.json").write_text(json.dumps(TERMS if self.stem else None), encoding="utf-8")
        if self._retriever is not None:
            self._retriever.save(str(directory / "bm25s"))  # type: ignore[attr-defined]

    @classmethod
    def load(cls, directory: Path) -> StaticBM25:
        """The index saved in ``directory`` (raises FileNotFoundError/ValueError when missing, bad or
        saved with other :data:`TERMS`)."""
        saved_terms = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        if saved_terms not in (TERMS, None):
            raise ValueError("bm25 index saved with other terms")
        stem = saved_terms is not None
        ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        if not ids:
            return cls([], None, stem)
        import bm25s

        retriever = bm25s.BM25.load(str(directory / "bm25s"))
        if retriever.scores["num_docs"] != len(ids):  # type: ignore[index]
            raise ValueError("bm25 index and ids disagree")
        return cls(ids, retriever, stem)


def _top_k(scores: np.ndarray, ids: Sequence[str], k: int) -> list[tuple[str, float]]:
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(ids[i], float(scores[i])) for i in idx if scores[i] > 0]


class IncrementalBM25:
    """An in-memory BM25 index that supports ``add`` and ``remove`` one document at a time."""

    def __init__(self, k1: float = K1, b: float = B) -> None:
        self.k1 = k1
        self.b = b
        self._docs: dict[str, Counter[str]] = {}
        self._lengths: dict[str, int] = {}
        self._postings: dict[str, dict[str, int]] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def add(self, doc_id: str, tokens: Sequence[str]) -> None:
        """Index the terms of ``tokens`` under ``doc_id`` (replacing any previous entry with that id)."""
        if doc_id in self._docs:
            self.remove(doc_id)
        counts = Counter(terms(tokens))
        self._docs[doc_id] = counts
        self._lengths[doc_id] = len(tokens)
        self._total_length += len(tokens)
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[doc_id] = tf

    def remove(self, doc_id: str) -> bool:
        """Drop ``doc_id``; returns False when it was not indexed."""
        counts = self._docs.pop(doc_id, None)
        if counts is None:
            return False
        self._total_length -= self._lengths.pop(doc_id)
        for term in counts:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(doc_id, None)
                if not posting:
                    del self._postings[term]
        return True

    def search(self, query_tokens: Sequence[str], k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query_tokens``."""
        n = len(self._docs)
        if n == 0 or not query_tokens or k <= 0:
            return []
        avgdl = self._total_length / n or 1.0
        scores: dict[str, float] = {}
        for term in set(terms(query_tokens)):
            posting = self._postings.get(term)
            if not posting:
                continue
            df = len(posting)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for doc_id, tf in posting.items():
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[doc_id] / avgdl)
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf / (tf + norm)
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [(doc_id, score) for doc_id, score in best if score > 0]
