"""Purging a document from a KB: every version, chunk, vector and index file that holds it.

``kb delete-doc`` makes a new version without a document; older versions keep it (pins stay
reproducible). A document that must not be stored at all (a customer's letter uploaded by
mistake) is *purged*: its revisions, their chunks and lexical tokens leave the database (on SQLite
with ``secure_delete=ON``, then the WAL is truncated, so the text leaves the files too), its
texts' vectors leave Chroma (whole and sentence collections, every model that embedded them) and
``kb_vector``, and the index directory of every version that held it (BM25, text-hash map, vector
files) is removed and its BM25 index rebuilt from what is left. A text another document of the KB
also holds keeps its vectors (it is that document's text too).

The versions stay, with their numbers and content hashes (a registry pin verifies the hash), and
answer for their other documents; ``n_documents``/``n_chunks`` are recounted. What remains of the
document is a ``kb_purged_document`` row: its id, the versions that held it, who purged it, when
and why (never its text or title), and an audit event ``kb_document_purged`` with the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import checkpoint_wal, get_engine, get_pooled_engine, write_transaction
from core.errors import SwitchboardError, invalid, not_found, unavailable
from core.pii import mask_text
from servers.kb_server import sentences
from servers.kb_server.models import (
    kb_chunk,
    kb_document,
    kb_purged_document,
    kb_vector,
    kb_version,
    kb_version_document,
)
from servers.kb_server.store import _kb, new_id, now, validate_org
from servers.kb_server.vectors import record_embedded

EVENT = "kb_document_purged"
_PRAGMAS = ("secure_delete=ON",)


@dataclass(slots=True)
class PurgePlan:
    """What a purge would remove (shown before asking for confirmation)."""

    kb_id: str
    kb_name: str
    doc_id: str
    versions: list[int]
    n_revisions: int
    n_chunks: int
    already_purged: bool = False


@dataclass(slots=True)
class PurgeResult:
    kb_id: str
    kb_name: str
    doc_id: str
    status: str  # purged | already_purged
    versions: list[int]
    revisions: int = 0
    chunks: int = 0
    vectors: int = 0  # Chroma records removed (whole and sentence)
    index_dirs: int = 0  # version index directories removed and rebuilt
    purged_at: datetime | None = None
    purged_by: str | None = None
    reason: str | None = None
    wal_checkpointed: bool = True
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _versions(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


async def _revisions(conn: AsyncConnection, org_id: str, kb_id: str, doc_id: str) -> list[str]:
    query = select(kb_document.c.id).where(
        kb_document.c.org_id == org_id, kb_document.c.kb_id == kb_id, kb_document.c.doc_id == doc_id
    )
    return list((await conn.execute(query)).scalars())


async def purged_documents(org_id: str, kb_id: str, conn: AsyncConnection | None = None) -> list[dict[str, Any]]:
    """The KB's purge records, oldest first (for ``kb show``)."""
    query = (
        select(kb_purged_document)
        .where(kb_purged_document.c.org_id == org_id, kb_purged_document.c.kb_id == kb_id)
        .order_by(kb_purged_document.c.purged_at)
    )
    if conn is None:
        engine = await get_engine()
        async with engine.connect() as own:
            rows = (await own.execute(query)).mappings().all()
    else:
        rows = (await conn.execute(query)).mappings().all()
    return [
        {
            "doc_id": r["doc_id"],
            "versions": _versions(r["versions"]),
            "revisions": r["n_revisions"],
            "chunks": r["n_chunks"],
            "purged_at": r["purged_at"],
            "purged_by": r["purged_by"],
            "reason": r["reason"],
        }
        for r in rows
    ]


async def plan_purge(org_id: str, kb_ref: str, doc_id: str) -> PurgePlan:
    """What purging ``doc_id`` would remove; NOT_FOUND for an unknown org, KB or document."""
    validate_org(org_id)
    engine = await get_engine()
    async with engine.connect() as conn:
        kb = await _kb(conn, org_id, kb_ref)
        revs = await _revisions(conn, org_id, kb["id"], doc_id)
        if not revs:
            done = await purged_documents(org_id, kb["id"], conn)
            if any(p["doc_id"] == doc_id for p in done):
                versions = sorted({v for p in done if p["doc_id"] == doc_id for v in p["versions"]})
                return PurgePlan(kb["id"], kb["name"], doc_id, versions, 0, 0, already_purged=True)
            raise not_found(
                f"no document {doc_id!r} in any version of {kb['name']!r}: see `switchboard kb show {kb['name']}`"
            )
        versions = (
            await conn.execute(
                select(kb_version_document.c.version)
                .where(kb_version_document.c.kb_id == kb["id"], kb_version_document.c.revision_id.in_(revs))
                .distinct()
                .order_by(kb_version_document.c.version)
            )
        ).scalars()
        chunks = (
            await conn.execute(select(func.count()).select_from(kb_chunk).where(kb_chunk.c.revision_id.in_(revs)))
        ).scalar_one()
        return PurgePlan(kb["id"], kb["name"], doc_id, list(versions), len(revs), int(chunks))


async def purge_document(
    org_id: str,
    kb_ref: str,
    doc_id: str,
    *,
    actor: str,
    reason: str,
    progress: Callable[[str, int, int], None] | None = None,
) -> PurgeResult:
    """Purge ``doc_id`` from every version of the KB (see the module doc); idempotent.

    ``progress(step, done, total)`` is told about the index rebuilds."""
    validate_org(org_id)
    reason = mask_text(" ".join(reason.split()))[:1000]
    if not reason:
        raise invalid("give the reason for the purge with --reason (it is kept with the purge record)")
    plan = await plan_purge(org_id, kb_ref, doc_id)  # NOT_FOUND before anything is written
    if plan.already_purged:
        return PurgeResult(plan.kb_id, plan.kb_name, doc_id, "already_purged", plan.versions)
    result = PurgeResult(plan.kb_id, plan.kb_name, doc_id, "purged", [], purged_by=actor[:200], reason=reason)
    engine = await get_pooled_engine(pool_size=1, max_overflow=2, extra_pragmas=_PRAGMAS)
    async with write_transaction(engine, immediate=True) as conn:
        kb = await _kb(conn, org_id, plan.kb_id, lock=True)
        kb_id = kb["id"]
        revs = await _revisions(conn, org_id, kb_id, doc_id)
        if not revs:  # purged meanwhile by another process
            return PurgeResult(plan.kb_id, plan.kb_name, doc_id, "already_purged", plan.versions)
        of_revs = kb_version_document.c.revision_id.in_(revs)
        versions = sorted(set((await conn.execute(select(kb_version_document.c.version).where(of_revs))).scalars()))
        shas = set(
            (await conn.execute(select(kb_chunk.c.text_sha256).where(kb_chunk.c.revision_id.in_(revs)))).scalars()
        )
        await conn.execute(delete(kb_version_document).where(of_revs))
        result.chunks = (await conn.execute(delete(kb_chunk).where(kb_chunk.c.revision_id.in_(revs)))).rowcount or 0
        await conn.execute(delete(kb_document).where(kb_document.c.id.in_(revs), kb_document.c.org_id == org_id))
        result.revisions = len(revs)
        kept = set(
            (
                await conn.execute(
                    select(kb_chunk.c.text_sha256).where(kb_chunk.c.kb_id == kb_id, kb_chunk.c.text_sha256.in_(shas))
                )
            ).scalars()
        )
        orphans = sorted(shas - kept)
        of_orphans = (kb_vector.c.kb_id == kb_id) & kb_vector.c.text_sha256.in_(orphans)
        models = set((await conn.execute(select(kb_vector.c.model_id).where(of_orphans))).scalars())
        await conn.execute(delete(kb_vector).where(of_orphans))
        # the collections are rebuilt: their other texts count as not embedded until they are back
        # (an interrupted purge leaves them to the embedder, never marked done without a vector)
        bases = _bases(models) if orphans else set()
        markers = sorted({m for b in bases for m in (b, sentences.marker(b))})
        of_markers = (kb_vector.c.kb_id == kb_id) & kb_vector.c.model_id.in_(markers)
        pairs = select(kb_vector.c.model_id, kb_vector.c.text_sha256).where(of_markers)
        held = [(r[0], r[1]) for r in await conn.execute(pairs)]
        await conn.execute(delete(kb_vector).where(of_markers))
        for version in versions:
            await _recount(conn, kb_id, version)
        result.versions = versions
        result.purged_at = now()
        await conn.execute(
            insert(kb_purged_document).values(
                id=new_id("prg"),
                org_id=org_id,
                kb_id=kb_id,
                doc_id=doc_id,
                versions=",".join(str(v) for v in versions),
                n_revisions=result.revisions,
                n_chunks=result.chunks,
                purged_at=result.purged_at,
                purged_by=result.purged_by,
                reason=reason,
            )
        )
    result.wal_checkpointed = await checkpoint_wal(engine)
    if not result.wal_checkpointed:
        result.notes.append(
            "the SQLite WAL could not be truncated (another process is reading): stop `serve kb` and run "
            "`switchboard kb purge-doc` again, or it is truncated at the next checkpoint"
        )
    result.vectors = await _rebuild_vectors(org_id, kb_id, orphans, bases)
    by_model: dict[str, list[str]] = {}
    for model_id, sha in held:
        by_model.setdefault(model_id, []).append(sha)
    for model_id, shas_done in by_model.items():
        await record_embedded(kb_id, org_id, model_id, shas_done)
    result.index_dirs = await _rebuild_indexes(org_id, kb_id, versions, progress)
    await _audit(org_id, result)
    return result


async def _recount(conn: AsyncConnection, kb_id: str, version: int) -> None:
    """Recount a version's documents and chunks (its number and content hash stay)."""
    revs = select(kb_version_document.c.revision_id).where(
        kb_version_document.c.kb_id == kb_id, kb_version_document.c.version == version
    )
    row = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(kb_document.c.n_chunks), 0)).where(kb_document.c.id.in_(revs))
        )
    ).first()
    n_docs, n_chunks = (int(row[0]), int(row[1])) if row else (0, 0)
    await conn.execute(
        update(kb_version)
        .where(kb_version.c.kb_id == kb_id, kb_version.c.version == version)
        .values(n_documents=n_docs, n_chunks=n_chunks)
    )


def _bases(models: set[str]) -> set[str]:
    """The embedding models behind ``kb_vector`` model ids (sentence markers included), and the
    configured one (vectors may be in Chroma before they are recorded)."""
    from servers.retrieval.embedding import get_embedder

    bases = {m.split("|", 1)[0] for m in models}
    with contextlib.suppress(Exception):  # no embedder configured here: the recorded models are all there is
        bases.add(get_embedder().model_id)
    return bases


async def _rebuild_vectors(org_id: str, kb_id: str, shas: Sequence[str], bases: set[str]) -> int:
    """Rebuild the KB's Chroma collections without ``shas`` in a fresh process (see
    :func:`rebuild_collections`); the number of records left out."""
    if not shas:
        return 0
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return await loop.run_in_executor(pool, rebuild_collections, org_id, kb_id, list(shas), sorted(bases))


def rebuild_collections(org_id: str, kb_id: str, shas: list[str], bases: list[str]) -> int:
    """Copy each collection of the KB (whole and sentence vectors, per model) into a new one without
    the records of ``shas``, drop the old one and its files (:func:`remove_orphan_segments`).

    A Chroma ``delete`` only marks records deleted: the vectors stay in the HNSW files, and the
    files' unused capacity is written from uninitialised memory, which can hold any text the
    writing process had read. So the new files are written by a fresh process (spawned for this)
    that never reads a document's text."""
    from servers.kb_server.sentences import sentence_collection_name
    from servers.kb_server.vectors import kb_collection_name
    from servers.retrieval.chroma import get_client, vector_collection

    client = get_client()
    drop = set(shas)
    left_out = 0
    for model_id in bases:
        for name in (kb_collection_name(org_id, kb_id, model_id), sentence_collection_name(org_id, kb_id, model_id)):
            try:
                old = client.get_collection(name=name)
            except Exception:
                continue  # never created
            ids: list[str] = []
            vectors: list[Any] = []
            metas: list[Any] = []
            total = old.count()
            for offset in range(0, total, 5000):
                got = old.get(include=["embeddings", "metadatas"], limit=5000, offset=offset)
                for rid, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
                    if (meta or {}).get("sha", rid.split(":", 1)[0]) in drop:
                        continue
                    ids.append(rid)
                    vectors.append(vec)
                    metas.append(meta)
            if len(ids) == total:
                continue
            left_out += total - len(ids)
            settings = dict(old.metadata or {})
            client.delete_collection(name=name)
            new = vector_collection(
                name, model_id=settings.pop("model_id", model_id), dim=int(settings.pop("dim")), extra=settings
            )
            for start in range(0, len(ids), 5000):
                end = start + 5000
                chunk = [list(map(float, v)) for v in vectors[start:end]]
                if any(m for m in metas[start:end]):
                    new.upsert(ids=ids[start:end], embeddings=chunk, metadatas=metas[start:end])
                else:
                    new.upsert(ids=ids[start:end], embeddings=chunk)
    remove_orphan_segments()
    return left_out


_SEGMENT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def remove_orphan_segments() -> int:
    """Remove the embedded Chroma's segment folders no collection uses any more (Chroma leaves a
    dropped collection's HNSW files on disk); 0 with a Chroma server. The number removed."""
    import sqlite3

    from core.settings import get_settings

    settings = get_settings()
    root = settings.home / "chroma"
    if settings.chroma_url or not (root / "chroma.sqlite3").exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{root / 'chroma.sqlite3'}?mode=ro", uri=True)) as conn:
        live = {str(r[0]) for r in conn.execute("SELECT id FROM segments")}
    removed = 0
    for path in root.iterdir():
        if path.is_dir() and _SEGMENT.match(path.name) and path.name not in live:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


async def _rebuild_indexes(
    org_id: str, kb_id: str, versions: Sequence[int], progress: Callable[[str, int, int], None] | None
) -> int:
    """Remove every index directory of ``versions`` (BM25, text-hash map, vector files), drop this
    process's cached copies, and rebuild the BM25 indexes from the database."""
    from servers.kb_server.densefile import dense_files
    from servers.kb_server.indexes import index_cache, index_dir, version_index
    from servers.kb_server.search import collections, completeness
    from servers.kb_server.vectors import recent_vectors

    for cache in (index_cache(), dense_files, collections, completeness, recent_vectors):
        cache.clear()
    removed = 0
    for n, version in enumerate(versions):
        target = index_dir(kb_id, version)
        for path in [target, *target.parent.glob(f".{target.name}.*")]:  # and half-written copies
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        if progress:
            progress("rebuilding indexes", n, len(versions))
        await version_index(org_id, kb_id, version)
    if progress:
        progress("rebuilding indexes", len(versions), len(versions))
    return removed


async def _audit(org_id: str, result: PurgeResult) -> None:
    """The purge's audit event: ids, counts, who and why; never the document's text or title."""
    from audit import AuditEvent, append

    details = {
        "kb_id": result.kb_id,
        "kb_name": result.kb_name,
        "doc_id": result.doc_id,
        "versions": result.versions,
        "revisions": result.revisions,
        "chunks": result.chunks,
        "vectors": result.vectors,
        "reason": result.reason,
    }
    try:
        await append(AuditEvent(org_id=org_id, event_type=EVENT, source="cli", actor=result.purged_by, details=details))
    except Exception as exc:
        why = exc.message if isinstance(exc, SwitchboardError) else type(exc).__name__
        raise unavailable(
            f"the document was purged, but appending its {EVENT} audit event failed: {why}. "
            "Check the audit log (`switchboard audit verify`); the purge record is in `switchboard kb show`"
        ) from None
