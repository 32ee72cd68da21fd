"""Knowledge bases in the database: create, (de)activate, upload/update/delete documents, read.

Every write that changes a KB's documents creates exactly one new immutable version (a batch
upload is one version); re-uploading content the KB already holds is a no-op. Files are parsed,
chunked and tokenised *before* the write transaction, and a bad file aborts the whole batch, so
an error never leaves a partial change. Every query is scoped by ``org_id``; another tenant's KB
is reported exactly like a missing one.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.canonical import canonical_sha256, sha256_hex
from core.context import is_valid_identifier
from core.db import get_engine, read_rows, write_transaction
from core.errors import SwitchboardError, conflict, invalid, not_found
from core.ids import resolve_id
from core.pii import contains_pii, mask_text
from servers.kb_server.chunking import Chunk, chunk_blocks
from servers.kb_server.limits import IngestLimits
from servers.kb_server.models import kb_chunk, kb_document, kb_version, kb_version_document, knowledge_base
from servers.kb_server.parsers import ParsedDocument, parse, read_upload
from servers.kb_server.titles import document_title

_DOC_ID = re.compile(r"^[\w][\w.\-]{0,199}\Z")
_NAME_MAX = 200


@dataclass(slots=True)
class UploadItem:
    """One file to upload: its name (for its type), bytes, and optional overrides."""

    filename: str
    data: bytes
    doc_id: str | None = None
    title: str | None = None
    source: str | None = None
    label: str | None = None  # how errors name it when filename is made up (a row: "rows.jsonl:3")

    @classmethod
    def from_path(cls, path: Path, **overrides: Any) -> UploadItem:
        return cls(path.name, read_upload(path), **overrides)


@dataclass(slots=True)
class PreparedDocument:
    """A parsed, chunked and tokenised document, ready to be written."""

    doc_id: str
    title: str
    source: str
    mime_type: str
    content_sha256: str
    size_bytes: int
    n_pages: int | None
    text: str
    chunks: list[Chunk]
    embed_texts: list[str]
    tokens: list[list[str]]


@dataclass(slots=True)
class DocumentChange:
    """What an upload did with one document."""

    doc_id: str
    status: str  # created | updated | unchanged
    n_chunks: int
    same_as: str | None = None  # for unchanged: the doc already holding this content


@dataclass(slots=True)
class UploadResult:
    """The outcome of an upload: the KB's version after it and what happened to each file."""

    kb_id: str
    kb_name: str
    version: int
    new_version: bool
    documents: list[DocumentChange] = field(default_factory=list)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _hash_id(prefix: str, *parts: object) -> str:
    return f"{prefix}_{sha256_hex(chr(31).join(str(p) for p in parts))[:24]}"


def now() -> datetime:
    return datetime.now(UTC)


def embed_head(title: str, section: str | None) -> str:
    """What goes in front of every text embedded for a chunk: its title, and its section if other."""
    return f"{title} · {section}" if section and section != title else title


def with_head(head: str, text: str) -> str:
    """``text`` with ``head`` (see :func:`embed_head`) on the line before it, when there is one."""
    return f"{head}\n{text}" if head else text


def embed_text(title: str, section: str | None, text: str) -> str:
    """The text that is embedded and indexed for a chunk: its title and section, then the passage."""
    return with_head(embed_head(title, section), text)


def default_doc_id(filename: str) -> str:
    """A document id from a file name: its stem with unsafe characters replaced by '-'."""
    stem = Path(filename).stem.strip() or "document"
    slug = re.sub(r"[^\w.\-]+", "-", stem).strip("-.") or "document"
    return slug[:200]


def validate_doc_id(doc_id: str) -> str:
    """``doc_id`` if it may name a document; INVALID_ARGUMENT otherwise, also for an id that is
    personal data (ids are stored, indexed and cited as given, never masked)."""
    if contains_pii(doc_id):
        raise invalid(
            "the document id looks like personal data (a phone, card, account or resident number, or an "
            "e-mail address): use an opaque id instead, e.g. faq-0001"
        )
    if not _DOC_ID.match(doc_id):
        raise invalid("a document id is 1-200 letters, digits, '.', '-' or '_' (starting with a letter or digit)")
    return doc_id


def masked_document(parsed: ParsedDocument) -> ParsedDocument:
    """``parsed`` with personal data masked in its text, section headings and title: the one
    place every KB write passes (:func:`prepare`), so nothing is stored, chunked, embedded or
    indexed raw. Company numbers stay: representative numbers (1588-xxxx) are no personal data, and
    landlines in a company's own documents (``+82-2-0000-0000`` in the demo's roaming guide) are how
    its customers reach it; mobile numbers, registration, card and account numbers and e-mail
    addresses are masked."""

    def masked(text: str | None) -> str | None:
        return mask_text(text, keep_landlines=True) if text else text

    return replace(
        parsed,
        blocks=[replace(b, text=masked(b.text) or "", section=masked(b.section)) for b in parsed.blocks],
        title=masked(parsed.title),
    )


def validate_org(org_id: str) -> str:
    if not isinstance(org_id, str) or not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    return org_id


def _without_title(section: str | None, title: str) -> str | None:
    """The section path without a leading heading that repeats the document title."""
    if not section or section == title:
        return None
    prefix = f"{title} > "
    return section[len(prefix) :] if section.startswith(prefix) else section


def prepare(item: UploadItem, limits: IngestLimits | None = None) -> PreparedDocument:
    """Parse, chunk and tokenise one file (CPU work; no database). Uploads run it in the worker."""
    from servers.retrieval.korean import tokenize_many

    if item.doc_id:
        doc_id = validate_doc_id(item.doc_id)
    else:
        try:
            doc_id = validate_doc_id(default_doc_id(item.filename))
        except SwitchboardError as exc:
            where = mask_text(item.filename)
            raise invalid(f"{where}: {exc.message} (the id comes from the file name: give one with --doc-id)") from None
    parsed: ParsedDocument = masked_document(parse(item.data, item.filename, limits))
    chunks = chunk_blocks(parsed.blocks)
    if not chunks:
        raise invalid(f"{item.filename}: no text found in the document")
    title = mask_text(document_title(item.title, parsed, item.filename))[:500] or doc_id
    chunks = [replace(c, section=_without_title(c.section, title)) for c in chunks]
    texts = [embed_text(title, c.section, c.text) for c in chunks]
    return PreparedDocument(
        doc_id=doc_id,
        title=title,
        source=mask_text(item.source or item.filename)[:1000],
        mime_type=parsed.mime_type,
        content_sha256=sha256_hex(item.data),
        size_bytes=len(item.data),
        n_pages=parsed.n_pages,
        text=parsed.text,
        chunks=chunks,
        embed_texts=texts,
        tokens=tokenize_many(texts),
    )


# --- knowledge bases ----------------------------------------------------------------------------


async def _kb(conn: AsyncConnection, org_id: str, ref: str, *, lock: bool = False) -> Mapping[str, Any]:
    """The org's KB by id or name; NOT_FOUND otherwise (also for other tenants' KBs)."""
    query = select(knowledge_base).where(
        knowledge_base.c.org_id == org_id, (knowledge_base.c.id == ref) | (knowledge_base.c.name == ref)
    )
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None and ref.startswith("kb_"):  # an id prefix, as printed
        kb_ids = select(knowledge_base.c.id).where(knowledge_base.c.org_id == org_id)
        full = await resolve_id(conn, ref, kb_ids, what="knowledge base", hint="see `switchboard kb list`")
        return await _kb(conn, org_id, full, lock=lock)
    if row is None:
        raise not_found(f"no knowledge base {ref!r} in this organisation: see `switchboard kb list`")
    return row


async def create_kb(org_id: str, name: str, description: str = "", *, active: bool = True) -> dict[str, Any]:
    """Create a KB (version 0, no documents). CONFLICT when the org already has one by that name."""
    validate_org(org_id)
    name = name.strip()
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise invalid(f"a KB name is 1-{_NAME_MAX} printable characters")
    if name.startswith("kb_"):
        raise invalid("a KB name must not start with 'kb_' (reserved for KB ids)")
    engine = await get_engine()
    kb_id = new_id("kb")
    stamp = now()
    try:
        async with write_transaction(engine, immediate=True) as conn:
            await conn.execute(
                insert(knowledge_base).values(
                    id=kb_id,
                    org_id=org_id,
                    name=name,
                    description=description[:4000],
                    is_active=active,
                    current_version=0,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    except IntegrityError:
        raise conflict(f"a knowledge base named {name!r} already exists in this organisation") from None
    return await get_kb(org_id, kb_id)


async def get_kb(org_id: str, ref: str) -> dict[str, Any]:
    """One KB of the org with its current version's document and chunk counts."""
    engine = await get_engine()
    async with engine.connect() as conn:
        row = await _kb(conn, org_id, ref)
        return await _with_counts(conn, row)


async def _with_counts(conn: AsyncConnection, row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    ver = None
    if row["current_version"]:
        ver = (
            (
                await conn.execute(
                    select(kb_version).where(
                        kb_version.c.kb_id == row["id"], kb_version.c.version == row["current_version"]
                    )
                )
            )
            .mappings()
            .first()
        )
    out["n_documents"] = ver["n_documents"] if ver else 0
    out["n_chunks"] = ver["n_chunks"] if ver else 0
    out["content_sha256"] = ver["content_sha256"] if ver else None
    return out


async def read_query(query: Any, conn: AsyncConnection | None) -> list[Mapping[str, Any]]:
    """Rows of ``query`` on ``conn``, or through :func:`core.db.read_rows` (the fast read path)."""
    if conn is not None:
        return list((await conn.execute(query)).mappings().all())
    return await read_rows(query)


async def known_orgs(limit: int = 10) -> list[str]:
    """Orgs that have a knowledge base (for a hint when a command names another)."""
    engine = await get_engine()
    async with engine.connect() as conn:
        query = select(knowledge_base.c.org_id).distinct().order_by(knowledge_base.c.org_id).limit(limit)
        return [r[0] for r in (await conn.execute(query)).all()]


async def list_kbs(
    org_id: str, *, active_only: bool = False, conn: AsyncConnection | None = None
) -> list[dict[str, Any]]:
    """The org's KBs, by name, with counts for their current versions."""
    query = (
        select(knowledge_base, kb_version.c.n_documents, kb_version.c.n_chunks, kb_version.c.content_sha256)
        .select_from(
            knowledge_base.outerjoin(
                kb_version,
                and_(
                    kb_version.c.kb_id == knowledge_base.c.id,
                    kb_version.c.version == knowledge_base.c.current_version,
                ),
            )
        )
        .where(knowledge_base.c.org_id == org_id)
        .order_by(knowledge_base.c.name)
    )
    if active_only:
        query = query.where(knowledge_base.c.is_active.is_(True))
    rows = await read_query(query, conn)
    out = []
    for row in rows:
        item = dict(row)
        item["n_documents"] = item["n_documents"] or 0
        item["n_chunks"] = item["n_chunks"] or 0
        out.append(item)
    return out


async def set_active(org_id: str, ref: str, active: bool) -> dict[str, Any]:
    """Activate or deactivate a KB (an inactive KB is never searched nor shown to tools)."""
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        row = await _kb(conn, org_id, ref, lock=True)
        await conn.execute(
            update(knowledge_base)
            .where(knowledge_base.c.id == row["id"], knowledge_base.c.org_id == org_id)
            .values(is_active=active, updated_at=now())
        )
    return await get_kb(org_id, row["id"])


# --- documents and versions ---------------------------------------------------------------------


async def _members(conn: AsyncConnection, kb_id: str, version: int) -> list[Mapping[str, Any]]:
    """The document revisions in ``version`` of ``kb_id``."""
    if version <= 0:
        return []
    query = (
        select(kb_document)
        .join(kb_version_document, kb_version_document.c.revision_id == kb_document.c.id)
        .where(kb_version_document.c.kb_id == kb_id, kb_version_document.c.version == version)
        .order_by(kb_document.c.doc_id)
    )
    return list((await conn.execute(query)).mappings().all())


def version_hash(kb_id: str, members: Sequence[tuple[str, str]]) -> str:
    """The content hash of a version: its KB and the sorted (doc_id, content sha256) pairs."""
    return canonical_sha256({"kb_id": kb_id, "documents": sorted([list(m) for m in members])})


async def upload(
    org_id: str,
    kb_ref: str,
    items: Sequence[UploadItem],
    *,
    fold_copies: bool = True,
    progress: Callable[[int], None] | None = None,
) -> UploadResult:
    """Upload files to a KB as one change: a new version unless every file is already there.

    ``fold_copies``: a file whose content another document already holds is skipped ("unchanged",
    ``same_as`` that document: a renamed copy). ``kb import`` turns it off: a row's id is the
    caller's key, so each row is its own document even when another row has the same text.
    ``progress(1)`` is called (from the worker's thread) as each file is prepared."""
    validate_org(org_id)
    if not items:
        raise invalid("nothing to upload")
    from servers.kb_server.worker import prepare_all

    stop = threading.Event()
    try:  # in the worker, per-file budgets
        prepared = await asyncio.to_thread(prepare_all, items, progress=progress, stop=stop)
    finally:
        stop.set()  # cancelled (Ctrl-C): the thread stops at once, not after the last file
    seen: set[str] = set()
    for doc in prepared:
        if doc.doc_id in seen:
            raise invalid(f"document id {doc.doc_id!r} appears twice in one upload")
        seen.add(doc.doc_id)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        kb = await _kb(conn, org_id, kb_ref, lock=True)
        members = {m["doc_id"]: m for m in await _members(conn, kb["id"], kb["current_version"])}
        by_content = {m["content_sha256"]: doc_id for doc_id, m in members.items()}
        result = UploadResult(kb["id"], kb["name"], kb["current_version"], False)
        changed: dict[str, str] = {}  # doc_id -> revision id
        for doc in prepared:
            current = members.get(doc.doc_id)
            if current is not None and current["content_sha256"] == doc.content_sha256:
                same_as = doc.doc_id
            elif fold_copies and doc.content_sha256 in by_content:
                same_as = by_content[doc.content_sha256]
            else:
                same_as = None
            if same_as is not None:
                result.documents.append(DocumentChange(doc.doc_id, "unchanged", len(doc.chunks), same_as=same_as))
                continue
            changed[doc.doc_id] = await _revision(conn, org_id, kb["id"], doc)
            status = "updated" if doc.doc_id in members else "created"
            result.documents.append(DocumentChange(doc.doc_id, status, len(doc.chunks)))
            by_content[doc.content_sha256] = doc.doc_id
        if not changed:
            return result
        revisions = {doc_id: m["id"] for doc_id, m in members.items()}
        revisions.update(changed)
        statuses = [d for d in result.documents if d.status != "unchanged"]
        kind = statuses[0].status.replace("created", "upload").replace("updated", "update")
        change = kind if len(statuses) == 1 else "batch"
        summary = ", ".join(f"{'+' if d.status == 'created' else '~'}{d.doc_id}" for d in statuses)
        result.version = await _new_version(conn, org_id, kb, revisions, change, summary)
        result.new_version = True
        return result


async def _revision(conn: AsyncConnection, org_id: str, kb_id: str, doc: PreparedDocument) -> str:
    """The revision row for ``doc`` (reused when this exact content was uploaded before)."""
    rev_id = _hash_id("rev", kb_id, doc.doc_id, doc.content_sha256)
    found = (
        await conn.execute(select(kb_document.c.id).where(kb_document.c.id == rev_id, kb_document.c.org_id == org_id))
    ).first()
    if found:
        return rev_id
    await conn.execute(
        insert(kb_document).values(
            id=rev_id,
            org_id=org_id,
            kb_id=kb_id,
            doc_id=doc.doc_id,
            title=doc.title,
            source=doc.source,
            mime_type=doc.mime_type,
            content_sha256=doc.content_sha256,
            size_bytes=doc.size_bytes,
            n_chunks=len(doc.chunks),
            n_pages=doc.n_pages,
            text=doc.text,
            created_at=now(),
        )
    )
    rows = [
        {
            "id": _hash_id("chk", kb_id, doc.doc_id, doc.content_sha256, chunk.ordinal),
            "org_id": org_id,
            "kb_id": kb_id,
            "revision_id": rev_id,
            "ordinal": chunk.ordinal,
            "text": chunk.text,
            "text_sha256": sha256_hex(text),
            "tokens": " ".join(tokens),
            "page": chunk.page,
            "section": chunk.section[:500] if chunk.section else None,
        }
        for chunk, text, tokens in zip(doc.chunks, doc.embed_texts, doc.tokens, strict=True)
    ]
    for start in range(0, len(rows), 2000):
        await conn.execute(insert(kb_chunk), rows[start : start + 2000])
    return rev_id


async def _new_version(
    conn: AsyncConnection,
    org_id: str,
    kb: Mapping[str, Any],
    revisions: Mapping[str, str],
    change: str,
    summary: str,
) -> int:
    """Write version ``current + 1`` holding ``revisions`` (doc_id -> revision id)."""
    version = kb["current_version"] + 1
    rows = (
        (
            await conn.execute(
                select(kb_document.c.doc_id, kb_document.c.content_sha256, kb_document.c.n_chunks).where(
                    kb_document.c.id.in_(list(revisions.values())), kb_document.c.org_id == org_id
                )
            )
        ).all()
        if revisions
        else []
    )
    await conn.execute(
        insert(kb_version).values(
            kb_id=kb["id"],
            version=version,
            org_id=org_id,
            content_sha256=version_hash(kb["id"], [(r.doc_id, r.content_sha256) for r in rows]),
            change=change,
            summary=summary[:1000],
            n_documents=len(rows),
            n_chunks=sum(r.n_chunks for r in rows),
            built_at=now(),
        )
    )
    if revisions:
        await conn.execute(
            insert(kb_version_document),
            [{"kb_id": kb["id"], "version": version, "revision_id": rev} for rev in revisions.values()],
        )
    await conn.execute(
        update(knowledge_base)
        .where(knowledge_base.c.id == kb["id"], knowledge_base.c.org_id == org_id)
        .values(current_version=version, updated_at=now())
    )
    return version


async def delete_document(org_id: str, kb_ref: str, doc_id: str) -> UploadResult:
    """Remove a document from the KB: a new version without it (older versions keep it)."""
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        kb = await _kb(conn, org_id, kb_ref, lock=True)
        members = {m["doc_id"]: m["id"] for m in await _members(conn, kb["id"], kb["current_version"])}
        if doc_id not in members:
            raise not_found(f"no document {doc_id!r} in the current version of {kb['name']!r}")
        del members[doc_id]
        version = await _new_version(conn, org_id, kb, members, "delete", f"-{doc_id}")
    return UploadResult(kb["id"], kb["name"], version, True, [DocumentChange(doc_id, "deleted", 0)])


async def list_versions(org_id: str, kb_ref: str) -> list[dict[str, Any]]:
    """Every version of a KB, newest first."""
    engine = await get_engine()
    async with engine.connect() as conn:
        kb = await _kb(conn, org_id, kb_ref)
        rows = (
            (
                await conn.execute(
                    select(kb_version)
                    .where(kb_version.c.kb_id == kb["id"], kb_version.c.org_id == org_id)
                    .order_by(kb_version.c.version.desc())
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


async def list_documents(org_id: str, kb_ref: str, version: int | None = None) -> list[dict[str, Any]]:
    """The documents of a KB version (default: current), without their text."""
    engine = await get_engine()
    async with engine.connect() as conn:
        kb = await _kb(conn, org_id, kb_ref)
        version = kb["current_version"] if version is None else version
        members = await _members(conn, kb["id"], version)
    return [{k: v for k, v in m.items() if k != "text"} for m in members]
