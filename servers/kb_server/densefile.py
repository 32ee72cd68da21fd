"""A complete KB version's vectors as one matrix on disk, searched without the vector store.

Chroma holds every KB's vectors (:mod:`servers.kb_server.vectors`), but opening it costs a
process ~0.4 s of import and client start-up under the GIL, most of what a server's first
search still paid after its models loaded. A version never changes and neither do its vectors,
so once every text of a version has its vector the search exports them, in the version's order,
to ``SWITCHBOARD_HOME/kb-index/<kb_id>/v<version>/dense-<model>.npy`` (beside the version's BM25
index, see :mod:`servers.kb_server.indexes`) and later searches, in this process and the next
ones, score the query against that matrix: an exact cosine top-k (one matrix-vector product),
no Chroma import, no Chroma round trip. Scoring every row costs ~2.5 ms at 20,000 texts and
~6 ms at 50,000, where Chroma's HNSW index takes ~2 ms: a version above :func:`max_rows` is
served by its file only until the process has opened Chroma (the warm-up then opens it).

The file is derived data, like the BM25 index: a missing, stale or damaged file is ignored (the
search queries Chroma and exports it again). It holds vectors of the KB's own passages only (no
customer data; the KB is masked on upload). ``SWITCHBOARD_KB_DENSE_FILES=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from servers.kb_server.indexes import VersionIndex, index_dir
from servers.retrieval.embedding import normalise

log = logging.getLogger("switchboard.kb")
FORMAT = 1
CACHE_SIZE = 32
MAX_ROWS = 20_000


def max_rows() -> int:
    """``SWITCHBOARD_KB_DENSE_FILE_MAX_ROWS`` (default 20,000): above it a version's file serves
    only the searches made before this process opened Chroma (see :func:`serves`)."""
    raw = os.environ.get("SWITCHBOARD_KB_DENSE_FILE_MAX_ROWS", "").strip()
    return int(raw) if raw.isdigit() else MAX_ROWS


def serves(matrix: DenseMatrix, store_open: bool) -> bool:
    """Whether ``matrix`` answers a search: always up to :func:`max_rows` texts (every row is
    scored: ~2.5 ms at 20,000), above only until Chroma is open (its HNSW index then answers a
    50,000-text version in ~2 ms instead of the file's ~6 ms)."""
    return not store_open or len(matrix.shas) <= max_rows()


def enabled() -> bool:
    """``SWITCHBOARD_KB_DENSE_FILES`` (default on): search complete versions from their matrix file."""
    return os.environ.get("SWITCHBOARD_KB_DENSE_FILES", "1").strip().lower() not in {"0", "false", "no", "off"}


def file_stem(model_id: str) -> str:
    """``dense-<12 hex>``: one file per embedding model (model ids hold ``:`` and ``/``)."""
    return "dense-" + hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:12]


def paths(kb_id: str, version: int, model_id: str) -> tuple[Path, Path]:
    """(matrix ``.npy``, metadata ``.json``) of one version's vectors of one model."""
    folder = index_dir(kb_id, version)
    stem = file_stem(model_id)
    return folder / f"{stem}.npy", folder / f"{stem}.json"


@dataclass(frozen=True, slots=True)
class DenseMatrix:
    """The L2-normalised vectors of one version's distinct texts, row ``i`` for ``shas[i]``."""

    shas: tuple[str, ...]
    matrix: np.ndarray  # (len(shas), dim) float32

    def top(self, qvec: np.ndarray, index: VersionIndex, want: int) -> list[tuple[str, float]]:
        """The ``want`` chunks of ``index`` nearest to ``qvec``: ``[(chunk_id, cosine)]``, best first.

        Exact: every row is scored; ties keep the rows' order, so the result never varies."""
        if not len(self.shas) or want <= 0:
            return []
        scores = self.matrix @ np.asarray(qvec, dtype=np.float32).reshape(-1)
        k = min(want, len(scores))
        if k < len(scores):
            part = np.argpartition(-scores, k - 1)[:k]
            order = part[np.lexsort((part, -scores[part]))]
        else:
            order = np.lexsort((np.arange(len(scores)), -scores))
        hits: list[tuple[str, float]] = []
        for row in order:
            for chunk_id in index.sha_to_chunks.get(self.shas[int(row)], ()):
                hits.append((chunk_id, float(scores[row])))
        return hits[:want]


def save(index: VersionIndex, model_id: str, shas: Sequence[str], matrix: np.ndarray) -> bool:
    """Write the version's matrix (atomically: a reader sees the old file, none, or the new one).

    Refuses (False) a matrix that does not cover exactly the version's texts."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(shas) or set(shas) != set(index.sha_to_chunks):
        return False
    npy, meta = paths(index.kb_id, index.version, model_id)
    tag = uuid.uuid4().hex[:8]
    tmp_npy, tmp_meta = npy.with_name(f".{npy.name}.{tag}"), meta.with_name(f".{meta.name}.{tag}")
    body = {
        "format": FORMAT,
        "org_id": index.org_id,
        "kb_id": index.kb_id,
        "version": index.version,
        "model_id": model_id,
        "dim": int(matrix.shape[1]),
        "shas": list(shas),
    }
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp_npy, "wb") as handle:
            np.save(handle, normalise(matrix), allow_pickle=False)
        tmp_meta.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp_npy, npy)  # the matrix first: its metadata names exactly these rows
        os.replace(tmp_meta, meta)
    except OSError:  # a read-only or full disk only costs Chroma queries
        for leftover in (tmp_npy, tmp_meta):
            leftover.unlink(missing_ok=True)
        return False
    return True


def load(index: VersionIndex, model_id: str) -> DenseMatrix | None:
    """The version's matrix from disk, or None when missing, stale or damaged."""
    npy, meta = paths(index.kb_id, index.version, model_id)
    try:
        body = json.loads(meta.read_text(encoding="utf-8"))
        expected = (FORMAT, index.org_id, index.kb_id, index.version, model_id)
        if (body["format"], body["org_id"], body["kb_id"], body["version"], body["model_id"]) != expected:
            return None
        shas = tuple(body["shas"])
        matrix = np.load(npy, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("kb: the vector file of %s v%s is damaged; Chroma answers instead", index.kb_id, index.version)
        return None
    if matrix.dtype != np.float32 or matrix.shape != (len(shas), int(body["dim"])):
        return None
    if set(shas) != set(index.sha_to_chunks):  # written for other texts: not this version's
        return None
    return DenseMatrix(shas, np.asarray(matrix))


def export(collection: Any, index: VersionIndex, model_id: str) -> bool:
    """Read the version's vectors from its Chroma ``collection`` and :func:`save` them."""
    shas = sorted(index.sha_to_chunks)
    rows: dict[str, Any] = {}
    for start in range(0, len(shas), 5000):
        got = collection.get(ids=shas[start : start + 5000], include=["embeddings"])
        rows.update(zip(got["ids"], got["embeddings"], strict=True))
    if len(rows) != len(shas):
        return False  # a vector went missing from the store: keep asking Chroma
    return save(index, model_id, shas, np.asarray([rows[sha] for sha in shas], dtype=np.float32))


class DenseFiles:
    """Process-wide LRU of loaded matrices, and the exports in flight (one per version)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int, str], DenseMatrix | None] = OrderedDict()
        self._exporting: set[tuple[str, str, int, str]] = set()
        self._mutex = threading.Lock()

    def get(self, index: VersionIndex, model_id: str) -> DenseMatrix | None:
        """The version's matrix (memory, then disk), or None (ask Chroma, and :meth:`export_later`).

        A miss is remembered too, so a version without a usable file is not read again at every
        search; its export forgets the miss once the file is written."""
        if not enabled():
            return None
        key = (index.org_id, index.kb_id, index.version, model_id)
        with self._mutex:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        found = load(index, model_id)
        with self._mutex:
            self._items[key] = found
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return found

    def export_later(self, collection: Any, index: VersionIndex, model_id: str) -> None:
        """Export the version's matrix in a daemon thread, once per version and process."""
        if not enabled():
            return
        key = (index.org_id, index.kb_id, index.version, model_id)
        with self._mutex:
            if key in self._exporting:
                return
            self._exporting.add(key)

        def run() -> None:
            try:
                written = export(collection, index, model_id)
            except Exception as exc:  # derived data: the next search asks Chroma again
                log.warning("kb: exporting the vectors of %s v%s failed (%s)", index.kb_id, index.version, exc)
                written = False
            with self._mutex:
                if written:
                    self._items.pop(key, None)  # the remembered miss: the next search loads the file
                else:
                    self._exporting.discard(key)

        threading.Thread(target=run, name="switchboard-kb-dense-export", daemon=True).start()

    def clear(self) -> None:
        with self._mutex:
            self._items.clear()
            self._exporting.clear()


dense_files = DenseFiles()


def all_exported(home: Path, model_id: str) -> bool:
    """True when the home has version indexes and every one has a matrix for ``model_id`` of at
    most :func:`max_rows` texts: the searches of this process need no vector store (the warm-up
    then does not open it)."""
    folders = list((home / "kb-index").glob("*/v*"))
    stem, limit = file_stem(model_id), max_rows()
    if not folders:
        return False
    for folder in folders:
        npy = folder / f"{stem}.npy"
        try:
            rows = len(np.load(npy, mmap_mode="r", allow_pickle=False))  # mapped: only the header is read
        except (OSError, ValueError, TypeError):
            return False
        if rows > limit or not (folder / f"{stem}.json").is_file():
            return False
    return True
