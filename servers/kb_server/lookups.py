"""What searches and reads of the KB server look up: the (KB, version) targets a call covers, and
chunks and documents inside them. Every query is scoped by ``org_id``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import get_engine
from core.errors import invalid, not_found
from core.ids import pick
from servers.kb_server.models import kb_chunk, kb_document, kb_version, kb_version_document
from servers.kb_server.store import list_kbs, read_query

# said to a model (the MCP tool); the CLI passes its own (cli_list_hint): a person has no tools
_LIST_HINT = "list them with the list_knowledge_bases tool, or `switchboard kb list`"


def cli_list_hint(org_id: str) -> str:
    """The hint for a person at the CLI who named a KB that is not there."""
    return f"list them with `switchboard kb list --org {org_id}`"


async def resolve_targets(
    org_id: str,
    kb_refs: Sequence[str] | None = None,
    pins: Mapping[str, int] | None = None,
    *,
    conn: AsyncConnection | None = None,
    list_hint: str = _LIST_HINT,
) -> list[dict[str, Any]]:
    """The (KB, version) pairs a search or read covers: active KBs only.

    ``pins`` (from the agent version) restrict the set to the pinned KBs at the pinned versions;
    ``kb_refs`` restrict it further. Naming an inactive, unknown or unpinned KB is an error, whose
    message says how to list them with ``list_hint`` (the MCP tool's by default).
    """
    kbs = {kb["id"]: kb for kb in await list_kbs(org_id, conn=conn)}
    names = {kb["name"]: kb_id for kb_id, kb in kbs.items()}
    chosen: dict[str, dict[str, Any]] = {}
    if pins:
        for kb_id, version in pins.items():
            kb = kbs.get(kb_id)
            if kb is None or not kb["is_active"]:
                continue  # a pinned KB that is gone or inactive is not searched
            if not 1 <= version <= kb["current_version"]:
                raise not_found(f"knowledge base {kb['name']!r} has no version {version}")
            chosen[kb_id] = {**kb, "version": version}
    else:
        chosen = {kb_id: {**kb, "version": kb["current_version"]} for kb_id, kb in kbs.items() if kb["is_active"]}
    if kb_refs:
        picked: dict[str, dict[str, Any]] = {}
        for ref in kb_refs:
            kb_id = ref if ref in kbs else names.get(ref)
            if kb_id is None and ref.startswith("kb_"):  # an id prefix, as printed
                kb_id = pick(ref, kbs, what="knowledge base", hint=list_hint)
            if kb_id is None:
                raise not_found(f"no knowledge base {ref!r}: {list_hint}")
            if not kbs[kb_id]["is_active"]:
                raise invalid(f"knowledge base {ref!r} is inactive and cannot be searched")
            if kb_id not in chosen:
                raise invalid(f"knowledge base {ref!r} is not available to this agent version")
            picked[kb_id] = chosen[kb_id]
        chosen = picked
    return [t for t in chosen.values() if t["version"] > 0]


async def fetch_chunks(
    org_id: str, chunk_ids: Sequence[str], *, conn: AsyncConnection | None = None
) -> dict[str, dict[str, Any]]:
    """Chunk rows with their document's doc_id/title/source, keyed by chunk id (org-scoped)."""
    if not chunk_ids:
        return {}
    query = (
        select(
            kb_chunk.c.id,
            kb_chunk.c.kb_id,
            kb_chunk.c.revision_id,
            kb_chunk.c.ordinal,
            kb_chunk.c.text,
            kb_chunk.c.page,
            kb_chunk.c.section,
            kb_document.c.doc_id,
            kb_document.c.title,
            kb_document.c.source,
        )
        .join(kb_document, kb_document.c.id == kb_chunk.c.revision_id)
        .where(kb_chunk.c.id.in_(list(chunk_ids)), kb_chunk.c.org_id == org_id)
    )
    rows = await read_query(query, conn)
    return {r["id"]: dict(r) for r in rows}


async def chunk_versions(org_id: str, kb_id: str, revision_id: str) -> list[int]:
    """The versions of ``kb_id`` that contain a revision."""
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(kb_version_document.c.version)
            .join(
                kb_version,
                and_(
                    kb_version.c.kb_id == kb_version_document.c.kb_id,
                    kb_version.c.version == kb_version_document.c.version,
                ),
            )
            .where(
                kb_version_document.c.kb_id == kb_id,
                kb_version_document.c.revision_id == revision_id,
                kb_version.c.org_id == org_id,
            )
            .order_by(kb_version_document.c.version)
        )
        return [r[0] for r in rows]


async def find_document(org_id: str, doc_id: str, targets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The revision of ``doc_id`` in the given (KB, version) targets; NOT_FOUND or ambiguity errors."""
    engine = await get_engine()
    found = []
    async with engine.connect() as conn:
        for target in targets:
            rows = (
                (
                    await conn.execute(
                        select(kb_document)
                        .join(kb_version_document, kb_version_document.c.revision_id == kb_document.c.id)
                        .where(
                            kb_version_document.c.kb_id == target["id"],
                            kb_version_document.c.version == target["version"],
                            kb_document.c.doc_id == doc_id,
                            kb_document.c.org_id == org_id,
                        )
                    )
                )
                .mappings()
                .all()
            )
            found.extend({**dict(r), "kb_name": target["name"], "version": target["version"]} for r in rows)
    if not found:
        raise not_found(f"no document {doc_id!r} in the searchable knowledge bases")
    if len(found) > 1:
        raise invalid(f"document id {doc_id!r} exists in several knowledge bases: pass kb_id")
    return found[0]


async def document_chunk_ids(org_id: str, revision_id: str) -> list[str]:
    """The chunk ids of a document revision, in reading order."""
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(kb_chunk.c.id)
            .where(kb_chunk.c.revision_id == revision_id, kb_chunk.c.org_id == org_id)
            .order_by(kb_chunk.c.ordinal)
        )
        return [r[0] for r in rows]
