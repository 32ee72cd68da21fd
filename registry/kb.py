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


_VERSIONS = text(
    "SELECT kb.name AS kb_name, v.version AS version FROM knowledge_base kb "
    "LEFT JOIN kb_version v ON v.kb_id = kb.id "
    "WHERE kb.org_id = :org AND (kb.name = :ref OR CAST(kb.id AS VARCHAR) = :ref)"
)
_NAMES = text("SELECT name FROM knowledge_base WHERE org_id = :org ORDER BY name")


async def _missing_pin(conn: AsyncConnection, org_id: str, ref: str, version: str) -> str:
    """Why ``ref@version`` is not a KB version of ``org_id``: the versions that KB has, or the KBs there are."""
    async with conn.begin_nested():
        rows = (await conn.execute(_VERSIONS, {"org": org_id, "ref": ref})).mappings().all()
        if not rows:
            names = [r[0] for r in (await conn.execute(_NAMES, {"org": org_id})).all()]
    if rows:
        numbers = sorted({int(r["version"]) for r in rows if r["version"] is not None})
        has = f"it has versions {', '.join(map(str, numbers))}" if numbers else "it has no versions yet"
        name = rows[0]["kb_name"]
        return (
            f"knowledge base {ref!r} has no version {version} in org {org_id} ({has}): "
            f"pin one that exists (`switchboard kb versions {name} --org {org_id}`)"
        )
    known = ", ".join(repr(n) for n in names[:10]) if names else "none yet"
    return (
        f"org {org_id} has no knowledge base {ref!r} (it has: {known}): "
        f"see `switchboard kb list --org {org_id}` and pin one by name or id"
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
        raise not_found(await _missing_pin(conn, org_id, ref, version))
    if len({str(r["kb_id"]) for r in rows}) > 1:
        ids = ", ".join(sorted(str(r["kb_id"]) for r in rows))
        raise invalid(f"several knowledge bases of org {org_id} are named {ref!r} ({ids}): pin one by its id")
    row = rows[0]
    if not row["is_active"]:
        raise not_found(f"knowledge base {ref!r} of org {org_id} is not active")
    return KbBinding(str(row["kb_id"]), row["kb_name"], version, row["content_sha256"])
