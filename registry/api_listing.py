"""What the read-only v0.1 API lists: reviewed server versions as official ``ServerResponse`` entries.

Listed: every version that was approved (current status approved, deprecated or revoked);
pending and rejected versions are never shown. Statuses map onto the official lifecycle:
approved → ``active``, deprecated → ``deprecated``, revoked → ``deleted`` (with the reason as
``statusMessage``); the Switchboard status itself is kept under ``_meta`` → ``<namespace>/registry``.
``isLatest`` marks the highest SemVer approved version of a server (a deprecated one when none
is approved; never a revoked one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.db import get_engine
from core.errors import SwitchboardError
from registry.models import APPROVED, DEPRECATED, REVOKED, ServerVersionInfo, ToolInfo, utc
from registry.semver import semver_key
from registry.serverjson import build_server_json, registry_name
from registry.store import current_statuses, version_from_row
from registry.tables import mcp_server, mcp_server_version, mcp_tool_definition

log = logging.getLogger(__name__)

OFFICIAL_META = "io.modelcontextprotocol.registry/official"
LISTED = {APPROVED: "active", DEPRECATED: "deprecated", REVOKED: "deleted"}
MAX_STATUS_MESSAGE = 500


def rfc3339(moment: datetime) -> str:
    return utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Entry:
    """One listed server version and its ServerResponse."""

    name: str  # reverse-DNS, e.g. io.github.switchboard/orders
    version: str
    status: str  # Switchboard's: approved | deprecated | revoked
    updated_at: datetime
    is_latest: bool
    response: dict[str, Any]

    @property
    def deleted(self) -> bool:
        return self.status == REVOKED

    @property
    def sort_key(self) -> tuple:
        return sort_key(self.name, self.version)


def sort_key(name: str, version: str) -> tuple:
    """Servers by name, then versions by SemVer precedence (the order pages are cut in)."""
    return (name, semver_key(version), version)


def _latest_versions(rows: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(server, version) of each server's latest: the highest approved, else the highest deprecated."""
    best: dict[str, tuple[int, tuple, str]] = {}
    for server, version, status in rows:
        if status == REVOKED:
            continue
        rank = (1 if status == APPROVED else 0, semver_key(version), version)
        if server not in best or rank > best[server]:
            best[server] = rank
    return {(server, rank[2]) for server, rank in best.items()}


def _response(info: ServerVersionInfo, description: str, ns: str, *, is_latest: bool, reason: str) -> dict[str, Any]:
    history = info.history[-1]
    official: dict[str, Any] = {
        "status": LISTED[info.status],
        "publishedAt": rfc3339(info.published_at),
        "updatedAt": rfc3339(history.changed_at),
        "statusChangedAt": rfc3339(history.changed_at),
        "isLatest": is_latest,
    }
    if info.status != APPROVED and reason:
        official["statusMessage"] = reason[:MAX_STATUS_MESSAGE]
    return {
        "server": build_server_json(info, description, ns=ns, require_launch=False),
        "_meta": {
            OFFICIAL_META: official,
            f"{ns}/registry": {"status": info.status, "server": info.server, "version": info.version},
        },
    }


async def load_entries(ns: str) -> list[Entry]:
    """Every listed version, sorted by (name, SemVer)."""
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(
                        mcp_server_version,
                        mcp_server.c.name.label("server_name"),
                        mcp_server.c.description.label("server_description"),
                    ).join(mcp_server, mcp_server.c.id == mcp_server_version.c.server_id)
                )
            )
            .mappings()
            .all()
        )
        statuses = await current_statuses(conn, [r["id"] for r in rows])
        listed = [r for r in rows if statuses[r["id"]].status in LISTED]
        tools: dict[str, list[ToolInfo]] = {}
        if listed:
            tool_rows = await conn.execute(
                select(
                    mcp_tool_definition.c.server_version_id,
                    mcp_tool_definition.c.name,
                    mcp_tool_definition.c.definition_sha256,
                ).where(mcp_tool_definition.c.server_version_id.in_([r["id"] for r in listed]))
            )
            for version_id, tool, sha in tool_rows:
                tools.setdefault(version_id, []).append(ToolInfo(tool, {}, sha, []))
    latest = _latest_versions([(r["server_name"], r["version"], statuses[r["id"]].status) for r in listed])
    entries = []
    for row in listed:
        status = statuses[row["id"]]
        info = version_from_row(row, status)
        info.tools, info.history = tools.get(row["id"], []), [status]
        is_latest = (info.server, info.version) in latest
        try:
            response = _response(info, row["server_description"], ns, is_latest=is_latest, reason=status.reason)
        except SwitchboardError as exc:  # e.g. pins over 4 KB: not expressible as a server.json
            log.warning("registry API: %s not listed: %s", info.ref, exc.message)
            continue
        entries.append(
            Entry(registry_name(info.server, ns), info.version, info.status, status.changed_at, is_latest, response)
        )
    return sorted(entries, key=lambda e: e.sort_key)
