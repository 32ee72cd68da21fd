"""KB test fixtures: background embedding off (tests embed explicitly), fresh caches per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _kb_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SWITCHBOARD_KB_BACKGROUND_EMBED", "0")
    monkeypatch.delenv("SWITCHBOARD_EMBEDDER", raising=False)
    from servers.kb_server.indexes import index_cache
    from servers.kb_server.search import collections, completeness

    index_cache().clear()
    collections.clear()
    completeness.clear()
    yield
    index_cache().clear()
    collections.clear()
    completeness.clear()
