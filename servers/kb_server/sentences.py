"""A vector per sentence of a KB chunk, beside the chunk's own, and how a search scores with them.

One e5 vector of a 220-token chunk is about the chunk's main topic; a question about a fact the
chunk states in passing ("what did the 1987 revision add?") is often closer to one sentence than
to the whole. So every chunk of two or more sentences also gets a vector per sentence (at most
``MAX_SENTENCES``; more are joined into that many groups of neighbours), each embedded with the
chunk's title and section in front, as the whole chunk is. A chunk's dense score is the **mean**
of its whole vector's cosine and its best sentence's: the fact said in passing counts, and one
sentence alone does not outrank a chunk that is about the question as a whole (the memory server
scores memories the same way, docs/memory.md). Chunks of one sentence keep their whole cosine.

Where they live: a second Chroma collection per (org, KB, model) — the whole-chunk collection's
HNSW index is never crowded by sentence records — with record ids ``<text sha256>:<n>`` and the
text's hash in the metadata. Progress is a ``kb_vector`` row under :func:`marker` (the model id
with ``|sent1``), written after Chroma has the vectors, exactly like the whole vectors'. A chunk's
sentence vectors share its lifecycle: KB texts are masked on upload and chunks are immutable per
version, and nothing deletes a text's vectors while any version may hold it.

How a search uses them (:func:`rescore`): the whole-chunk vectors find the dense candidates as
before (a matrix file or Chroma's HNSW index); the candidates of that list and of the BM25 list
are then scored exactly by the mean above, from the version's vector file
(:mod:`servers.kb_server.densefile`) or, until it exists, from Chroma. Measured on KorQuAD and
SQuAD (docs/kb.md): e5 recall@5 on the low-overlap quarters .843 → .912 and .869 → .901.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from servers.kb_server.store import with_head
from servers.retrieval.chroma import collection_name, vector_collection
from servers.retrieval.sentences import grouped, sentences

SENTENCE_FORMAT = "sent1"
MAX_SENTENCES = 16  # a chunk holds at most ~400 tokens; longer runs of sentences are grouped


def enabled() -> bool:
    """``SWITCHBOARD_KB_SENTENCE_VECTORS`` (default on). Off: no sentence vectors are computed
    and search scores chunks by their whole vector alone (e.g. to halve the embedding tokens paid for)."""
    return os.environ.get("SWITCHBOARD_KB_SENTENCE_VECTORS", "1").strip().lower() not in {"0", "false", "no", "off"}


def marker(model_id: str) -> str:
    """The ``kb_vector`` model id that records a text's sentence vectors of ``model_id``."""
    return f"{model_id}|{SENTENCE_FORMAT}"


def sentence_texts(head: str, body: str) -> list[str]:
    """The texts embedded for ``body``'s sentences (``head`` = title · section in front); [] for
    a chunk of one sentence (its whole vector is its only one)."""
    parts = sentences(body)
    if len(parts) <= 1:
        return []
    return [with_head(head, part) for part in grouped(parts, MAX_SENTENCES)]


def record_ids(text_sha256: str, count: int) -> list[str]:
    return [f"{text_sha256}:{n}" for n in range(count)]


def sentence_collection_name(org_id: str, kb_id: str, model_id: str) -> str:
    """The Chroma collection holding one KB's sentence vectors for one model."""
    return collection_name("kb-sentences", org_id, kb_id, model_id)


def collection_of(org_id: str, kb_id: str, model_id: str, dim: int) -> Any:
    """The KB's sentence-vector collection, created on demand."""
    name = sentence_collection_name(org_id, kb_id, model_id)
    return vector_collection(name, model_id=model_id, dim=dim, extra={"org_id": org_id, "kind": "sentences"})


def read_store(collection: Any, shas: Sequence[str]) -> dict[str, np.ndarray]:
    """The sentence vectors of ``shas`` from their Chroma collection, rows in sentence order
    (texts of one sentence are absent)."""
    found: dict[str, list[tuple[int, Any]]] = {}
    for start in range(0, len(shas), 500):
        part = list(shas[start : start + 500])
        got = collection.get(where={"sha": {"$in": part}}, include=["embeddings"])
        for record_id, vector in zip(got["ids"], got["embeddings"], strict=True):
            sha, _, n = record_id.rpartition(":")
            found.setdefault(sha, []).append((int(n), vector))
    return {
        sha: np.asarray([v for _, v in sorted(rows, key=lambda r: r[0])], dtype=np.float32)
        for sha, rows in found.items()
    }


def passage_scores(
    qvec: np.ndarray, whole: Mapping[str, np.ndarray], parts: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Each text's dense score: mean(whole cosine, best sentence cosine), or the whole cosine
    for a text without sentence vectors. Vectors are unit length."""
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    out: dict[str, float] = {}
    for sha, vector in whole.items():
        score = float(np.dot(vector, q))
        rows = parts.get(sha)
        if rows is not None and len(rows):
            score = (score + float(np.max(rows @ q))) / 2.0
        out[sha] = score
    return out


def rescore(
    qvec: np.ndarray,
    chunk_to_sha: Mapping[str, str],
    sha_to_chunks: Mapping[str, Sequence[str]],
    candidates: Iterable[str],
    vectors: Callable[[Sequence[str]], tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]],
    want: int,
) -> list[tuple[str, float]]:
    """The version's dense list re-ranked by :func:`passage_scores`: ``candidates`` (chunk ids of
    the whole-vector list and of BM25's list; others are ignored) → ``[(chunk_id, score)]``, best
    first, ties by chunk id. ``vectors(shas)`` returns (whole vectors, sentence rows) by text hash."""
    shas = list(dict.fromkeys(chunk_to_sha[c] for c in candidates if c in chunk_to_sha))
    if not shas:
        return []
    whole, parts = vectors(shas)
    scores = passage_scores(qvec, whole, parts)
    hits = [(chunk, score) for sha, score in scores.items() for chunk in sha_to_chunks.get(sha, ())]
    hits.sort(key=lambda h: (-h[1], h[0]))
    return hits[:want]
