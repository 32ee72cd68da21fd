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

Beside it, ``dense-<model>-sentences.npy`` holds the version's sentence vectors
(:mod:`servers.kb_server.sentences`), text after text, with each text's first row in the
metadata (``offsets``); the search reads a candidate's rows from it to score it by its best
sentence, whatever the version's size. A version is exported once both kinds are complete (with
sentence vectors switched off, the file holds none and says so).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from servers.kb_server import sentences
from servers.kb_server.indexes import VersionIndex, index_dir
from servers.retrieval.embedding import normalise

log = logging.getLogger("switchboard.kb")
FORMAT = 2  # 2: sentence vectors beside the whole vectors
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


def paths(kb_id: str, version: int, model_id: str) -> tuple[Path, Path, Path]:
    """(matrix ``.npy``, metadata ``.json``, sentence matrix ``.npy``) of one version's vectors of one model."""
    folder = index_dir(kb_id, version)
    stem = file_stem(model_id)
    return folder / f"{stem}.npy", folder / f"{stem}.json", folder / f"{stem}-sentences.npy"


def sentence_format() -> str | None:
    """What the file's sentence rows must be to serve this process (None: sentence vectors off)."""
    return sentences.SENTENCE_FORMAT if sentences.enabled() else None


@dataclass(frozen=True, slots=True)
class DenseMatrix:
    """The L2-normalised vectors of one version's distinct texts, row ``i`` for ``shas[i]``; the
    sentence rows of ``shas[i]`` are ``sentence_rows[offsets[i]:offsets[i + 1]]``."""

    shas: tuple[str, ...]
    matrix: np.ndarray  # (len(shas), dim) float32
    sentence_rows: np.ndarray | None = None  # (offsets[-1], dim) float32; None: sentence vectors off
    offsets: np.ndarray | None = None  # (len(shas) + 1,) int64
    row_of: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.row_of:
            self.row_of.update((sha, n) for n, sha in enumerate(self.shas))

    def vectors(self, shas: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(whole vector, sentence rows) of each of ``shas`` found in this version."""
        whole: dict[str, np.ndarray] = {}
        parts: dict[str, np.ndarray] = {}
        for sha in shas:
            row = self.row_of.get(sha)
            if row is None:
                continue
            whole[sha] = self.matrix[row]
            if self.sentence_rows is not None and self.offsets is not None:
                start, end = int(self.offsets[row]), int(self.offsets[row + 1])
                if end > start:
                    parts[sha] = self.sentence_rows[start:end]
        return whole, parts

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


def save(
    index: VersionIndex,
    model_id: str,
    shas: Sequence[str],
    matrix: np.ndarray,
    parts: Mapping[str, np.ndarray] | None = None,
) -> bool:
    """Write the version's matrices (atomically: a reader sees the old files, none, or the new ones).

    ``parts`` maps a text to its sentence rows (texts of one sentence absent); None when sentence
    vectors are off. Refuses (False) a matrix that does not cover exactly the version's texts."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(shas) or set(shas) != set(index.sha_to_chunks):
        return False
    dim = int(matrix.shape[1])
    counts = [len(parts.get(sha, ())) for sha in shas] if parts is not None else [0] * len(shas)
    blocks = [
        np.asarray(parts[sha], dtype=np.float32).reshape(-1, dim) for sha, n in zip(shas, counts, strict=True) if n
    ]
    rows = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
    npy, meta, sent = paths(index.kb_id, index.version, model_id)
    tag = uuid.uuid4().hex[:8]
    tmp = [p.with_name(f".{p.name}.{tag}") for p in (npy, sent, meta)]
    body = {
        "format": FORMAT,
        "org_id": index.org_id,
        "kb_id": index.kb_id,
        "version": index.version,
        "model_id": model_id,
        "dim": dim,
        "shas": list(shas),
        "sentence_format": sentence_format() if parts is not None else None,
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist(),
    }
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        for path, data in ((tmp[0], matrix), (tmp[1], rows)):
            with open(path, "wb") as handle:
                np.save(handle, normalise(data) if len(data) else data.astype(np.float32), allow_pickle=False)
        tmp[2].write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp[0], npy)  # the matrices first: their metadata names exactly these rows
        os.replace(tmp[1], sent)
        os.replace(tmp[2], meta)
    except OSError:  # a read-only or full disk only costs Chroma queries
        for leftover in tmp:
            leftover.unlink(missing_ok=True)
        return False
    return True


def load(index: VersionIndex, model_id: str) -> DenseMatrix | None:
    """The version's matrix from disk, or None when missing, stale or damaged."""
    npy, meta, sent = paths(index.kb_id, index.version, model_id)
    try:
        body = json.loads(meta.read_text(encoding="utf-8"))
        expected = (FORMAT, index.org_id, index.kb_id, index.version, model_id)
        found = (body["format"], body["org_id"], body["kb_id"], body["version"], body["model_id"])
        wanted = sentence_format()  # a file with sentence rows also serves while they are off
        if found != expected or (wanted is not None and body.get("sentence_format") != wanted):
            return None
        shas = tuple(body["shas"])
        offsets = np.asarray(body["offsets"], dtype=np.int64)
        matrix = np.load(npy, mmap_mode="r", allow_pickle=False)
        rows = np.load(sent, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("kb: the vector file of %s v%s is damaged; Chroma answers instead", index.kb_id, index.version)
        return None
    dim = int(body["dim"])
    if matrix.dtype != np.float32 or matrix.shape != (len(shas), dim):
        return None
    if rows.dtype != np.float32 or rows.shape != (int(offsets[-1]) if len(offsets) else 0, dim):
        return None
    if len(offsets) != len(shas) + 1 or np.any(np.diff(offsets) < 0):
        return None
    if set(shas) != set(index.sha_to_chunks):  # written for other texts: not this version's
        return None
    with_sentences = wanted is not None
    return DenseMatrix(shas, np.asarray(matrix), np.asarray(rows) if with_sentences else None, offsets)


def export(collection: Any, index: VersionIndex, model_id: str, sentence_collection: Any | None = None) -> bool:
    """Read the version's vectors from its Chroma collections and :func:`save` them
    (``sentence_collection`` None: sentence vectors are off)."""
    shas = sorted(index.sha_to_chunks)
    rows: dict[str, Any] = {}
    for start in range(0, len(shas), 5000):
        got = collection.get(ids=shas[start : start + 5000], include=["embeddings"])
        rows.update(zip(got["ids"], got["embeddings"], strict=True))
    if len(rows) != len(shas):
        return False  # a vector went missing from the store: keep asking Chroma
    parts = sentences.read_store(sentence_collection, shas) if sentence_collection is not None else None
    return save(index, model_id, shas, np.asarray([rows[sha] for sha in shas], dtype=np.float32), parts)


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

    def export_later(
        self, collection: Any, index: VersionIndex, model_id: str, sentence_collection: Any | None = None
    ) -> None:
        """Export the version's matrices in a daemon thread, once per version and process."""
        if not enabled():
            return
        key = (index.org_id, index.kb_id, index.version, model_id)
        with self._mutex:
            if key in self._exporting:
                return
            self._exporting.add(key)

        def run() -> None:
            try:
                written = export(collection, index, model_id, sentence_collection)
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
        if not (folder / f"{stem}-sentences.npy").is_file():  # written before sentence vectors
            return False
    return True
