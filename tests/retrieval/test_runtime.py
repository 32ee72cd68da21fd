"""Process settings of the retrieval code: BLAS threads, model warm-up, the query-vector LRU."""

from __future__ import annotations

import numpy as np

from servers.retrieval import threads
from servers.retrieval.query_vectors import QueryVectors


def test_blas_runs_on_the_configured_number_of_threads(monkeypatch) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.setattr(threads, "_done", False)
    monkeypatch.setenv("SWITCHBOARD_BLAS_THREADS", "1")
    with threadpool_limits(limits=None):  # restore whatever was set before, afterwards
        threads.limit_blas_threads()
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
    monkeypatch.setenv("SWITCHBOARD_BLAS_THREADS", "zero")
    assert threads.blas_threads() == 1


class _CountingEmbedder:
    model_id, dim = "test:counting", 3

    def __init__(self) -> None:
        self.calls = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return np.array([len(text), 0, 1], dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("not used")


def test_query_vectors_are_cached_per_model_and_evicted_oldest_first() -> None:
    cache, embedder = QueryVectors(size=2), _CountingEmbedder()
    first = cache.get(embedder, "환불 언제 돼요")
    assert cache.get(embedder, "환불 언제 돼요") is first and embedder.calls == 1
    cache.get(embedder, "배송 조회")
    cache.get(embedder, "멤버십 등급")  # evicts the least recently used: 환불
    cache.get(embedder, "환불 언제 돼요")
    assert embedder.calls == 4
    other = _CountingEmbedder()
    other.model_id = "test:other"
    cache.get(other, "배송 조회")
    assert other.calls == 1  # another model never reuses these vectors


def test_warm_up_loads_the_analyser_and_the_model() -> None:
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.warmup import warm_up

    warm_up()
    assert get_embedder()._model is not None  # type: ignore[attr-defined]
