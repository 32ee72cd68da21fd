"""A process-wide LRU of query embeddings, shared by the KB and memory servers.

Customers ask the same questions and agents repeat searches; a cached query vector turns a
~10-30 ms embedding into a dictionary lookup. Entries are keyed by (model id, query text), so
vectors of different models never mix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from servers.retrieval.embedding import Embedder


class QueryVectors:
    """At most ``size`` query vectors, least recently used dropped first; thread-safe."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, embedder: Embedder, query: str) -> np.ndarray:
        """The vector of ``query`` under ``embedder``, embedding it on a miss (blocking: call from a thread)."""
        key = (embedder.model_id, query)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        vec = embedder.embed_query(query)
        with self._lock:
            self._items[key] = vec
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vec

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


query_vectors = QueryVectors()
