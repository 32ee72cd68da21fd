"""KB test fixtures: background embedding off (tests embed explicitly), fresh caches per test
(version indexes, Chroma collections, completeness, vector files, query vectors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _kb_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SWITCHBOARD_KB_BACKGROUND_EMBED", "0")
    monkeypatch.delenv("SWITCHBOARD_EMBEDDER", raising=False)
    from servers.kb_server.densefile import dense_files
    from servers.kb_server.indexes import index_cache
    from servers.kb_server.search import collections, completeness
    from servers.retrieval.query_vectors import query_vectors

    caches = (index_cache(), collections, completeness, dense_files, query_vectors)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()
