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
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import checkpoint_wal, get_engine, get_pooled_engine, write_transaction
from core.errors import SwitchboardError, invalid, not_found, unavailable
from core.pii import mask_text
from servers.kb_server.models import (
    kb_chunk,
    kb_document,
    kb_purged_document,
    kb_vector,
    kb_version,
    kb_version_document,
)
from servers.kb_server.store import _kb, new_id, now, validate_org

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
    result.vectors = await asyncio.to_thread(_purge_vectors, org_id, kb_id, orphans, models)
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


def _purge_vectors(org_id: str, kb_id: str, shas: Sequence[str], models: set[str]) -> int:
    """Delete the texts' whole and sentence vectors from every collection of the KB that has them."""
    if not shas:
        return 0
    from servers.kb_server.sentences import sentence_collection_name
    from servers.kb_server.vectors import kb_collection_name
    from servers.retrieval.chroma import get_client
    from servers.retrieval.embedding import get_embedder

    bases = {m.split("|", 1)[0] for m in models}
    with contextlib.suppress(Exception):  # no embedder configured here: the recorded models are all there is
        bases.add(get_embedder().model_id)
    client = get_client()
    removed = 0
    for model_id in sorted(bases):
        for name, sentences in (
            (kb_collection_name(org_id, kb_id, model_id), False),
            (sentence_collection_name(org_id, kb_id, model_id), True),
        ):
            try:
                collection = client.get_collection(name=name)
            except Exception:
                continue  # never created
            before = collection.count()
            for start in range(0, len(shas), 500):
                part = list(shas[start : start + 500])
                if sentences:
                    collection.delete(where={"sha": {"$in": part}})
                else:
                    collection.delete(ids=part)
            removed += before - collection.count()
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
