"""The knowledge page: the org's KBs, their versions and documents, semantic-vector progress,
activate/deactivate, and uploads as a new version.

The console is a management surface like ``switchboard kb``, so it uses the KB store's functions
directly (the conversation path still reaches the KB server only over MCP). Vectors are computed
by the running KB server in the background; this page shows how far it got.
"""

from __future__ import annotations

from typing import Any

from core.errors import invalid
from host.console.actions import audited
from host.console.operators import Operator

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_FILES = 50


async def overview(operator: Operator) -> list[dict[str, Any]]:
    from servers.kb_server.store import list_kbs

    return await list_kbs(operator.org_id)


async def detail(operator: Operator, kb_ref: str) -> dict[str, Any]:
    from servers.kb_server.store import get_kb, list_documents, list_versions
    from servers.kb_server.vectors import progress_counts
    from servers.retrieval.embedding import get_embedder

    info = await get_kb(operator.org_id, kb_ref)  # NOT_FOUND for another org's KB
    model_id = get_embedder().model_id
    done, total = (0, 0)
    if info.get("current_version"):
        done, total = await progress_counts(operator.org_id, info["id"], info["current_version"], model_id)
    return {
        "kb": info,
        "versions": await list_versions(operator.org_id, info["id"]),
        "documents": await list_documents(operator.org_id, info["id"]),
        "embedding": {"model_id": model_id, "done": done, "total": total, "percent": _percent(done, total)},
    }


def _percent(done: int, total: int) -> int:
    return 100 if not total else int(100 * done / total)


async def set_active(operator: Operator, kb_ref: str, active: bool) -> dict[str, Any]:
    from servers.kb_server.store import set_active as store_set_active

    info = await store_set_active(operator.org_id, kb_ref, active)
    await audited(operator, "kb_activate" if active else "kb_deactivate", kb_id=info["id"], kb_name=info["name"])
    return info


async def upload(operator: Operator, kb_ref: str, files: list[Any]) -> Any:
    """Store uploaded files as one new version (identical content is skipped; a bad file changes nothing)."""
    from servers.kb_server.indexes import version_index
    from servers.kb_server.store import UploadItem, get_kb
    from servers.kb_server.store import upload as store_upload

    info = await get_kb(operator.org_id, kb_ref)
    files = [f for f in files if getattr(f, "filename", None)]
    if not files:
        raise invalid("choose at least one file (.md .txt .html .pdf .docx)")
    if len(files) > MAX_FILES:
        raise invalid(f"at most {MAX_FILES} files per upload")
    items, size = [], 0
    for upload_file in files:
        data = await upload_file.read(MAX_UPLOAD_BYTES + 1)
        size += len(data)
        if size > MAX_UPLOAD_BYTES:
            raise invalid(f"an upload is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: split it")
        items.append(UploadItem(upload_file.filename, data))
    result = await store_upload(operator.org_id, info["id"], items)
    if result.new_version:
        await version_index(operator.org_id, result.kb_id, result.version)
    await audited(
        operator,
        "kb_upload",
        kb_id=result.kb_id,
        version=result.version,
        files=[i.filename for i in items],
        new_version=result.new_version,
    )
    return result
