"""Checking KB pins against the KB server's tables, when they exist.

The KB server (``servers/kb_server``) owns ``knowledge_base(id, org_id, name, is_active)`` and
``kb_version(kb_id, version, content_sha256, built_at)``. The registry does not import it: it
reads those tables with plain SQL when they exist. When they do not (no KB server installed),
KB pins are stored as given and marked unverified (``content_sha256`` null).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid, not_found, unavailable
from registry.models import KbBinding

_LOOKUP = text(
    "SELECT kb.id AS kb_id, kb.name AS kb_name, kb.is_active AS is_active, v.content_sha256 AS content_sha256 "
    "FROM knowledge_base kb JOIN kb_version v ON v.kb_id = kb.id "
    "WHERE kb.org_id = :org AND (kb.name = :ref OR CAST(kb.id AS VARCHAR) = :ref) "
    "AND CAST(v.version AS VARCHAR) = :version"
)


async def kb_tables_present(conn: AsyncConnection) -> bool:
    """True when the KB server's tables exist in this database."""

    def _check(sync_conn: Any) -> bool:
        inspector = inspect(sync_conn)
        return inspector.has_table("knowledge_base") and inspector.has_table("kb_version")

    return await conn.run_sync(_check)


async def resolve_kb_pin(conn: AsyncConnection, org_id: str, ref: str, version: str) -> KbBinding:
    """The KB version ``ref@version`` of ``org_id`` with its content hash; NOT_FOUND when absent."""
    try:
        async with conn.begin_nested():
            rows = (await conn.execute(_LOOKUP, {"org": org_id, "ref": ref, "version": version})).mappings().all()
    except Exception as exc:
        raise unavailable(f"cannot read the KB tables to check {ref}@{version}: {type(exc).__name__}") from None
    if not rows:
        raise not_found(
            f"knowledge base {ref!r} has no version {version} in org {org_id}: "
            "see `switchboard kb versions` and pin one that exists"
        )
    if len({str(r["kb_id"]) for r in rows}) > 1:
        ids = ", ".join(sorted(str(r["kb_id"]) for r in rows))
        raise invalid(f"several knowledge bases of org {org_id} are named {ref!r} ({ids}): pin one by its id")
    row = rows[0]
    if not row["is_active"]:
        raise not_found(f"knowledge base {ref!r} of org {org_id} is not active")
    return KbBinding(str(row["kb_id"]), row["kb_name"], version, row["content_sha256"])
