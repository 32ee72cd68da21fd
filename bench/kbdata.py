"""KorQuAD/SQuAD passages and questions, and an on-disk cache of their passage vectors (used by
bench/kb.py and bench/kbquality.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SWITCHBOARD_BENCH_DATA", ROOT.parent / "shared" / "data" / "retrieval"))
RESULTS = ROOT / "bench" / "results"


def load_dataset(name: str) -> tuple[list[str], list[tuple[str, int]]]:
    """(unique passages, [(question, index of its passage)])."""
    path = DATA / ("KorQuAD_v1.0_dev.json" if name == "korquad" else "squad_v1.1_dev.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    index: dict[str, int] = {}
    passages: list[str] = []
    questions: list[tuple[str, int]] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            ctx = para["context"]
            if ctx not in index:
                index[ctx] = len(passages)
                passages.append(ctx)
            questions.extend((qa["question"], index[ctx]) for qa in para["qas"])
    return passages, questions


class VectorCache:
    """Passage vectors on disk under bench/results/vectors/<model>/, keyed by the text's sha256."""

    def __init__(self, model_id: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
        self.dir = RESULTS / "vectors" / safe
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, text: str) -> Path:
        return self.dir / (hashlib.sha256(text.encode("utf-8")).hexdigest() + ".npy")

    def get(self, text: str) -> np.ndarray | None:
        path = self._path(text)
        try:
            return np.load(path) if path.exists() else None
        except (OSError, ValueError):
            return None

    def put(self, text: str, vec: np.ndarray) -> None:
        path = self._path(text)
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, vec.astype(np.float32))
        os.replace(tmp, path)

    def embed(self, texts: list[str], embedder, batch: int = 8, progress=None) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` (cached ones loaded, the rest embedded and cached); and how many were new."""
        out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        todo = []
        for i, t in enumerate(texts):
            v = self.get(t)
            if v is None:
                todo.append(i)
            else:
                out[i] = v
        for start in range(0, len(todo), batch):
            idx = todo[start : start + batch]
            vecs = embedder.embed_passages([texts[i] for i in idx])
            for i, v in zip(idx, vecs, strict=True):
                out[i] = v
                self.put(texts[i], v)
            if progress:
                progress(len(idx))
        return out, len(todo)


def whitespace_tokens(text: str) -> list[str]:
    return [t for t in re.sub(r"[^\w\s]", " ", text.lower()).split() if t]
