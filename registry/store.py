"""Read helpers over the registry tables, shared by publish, review, agents and the host API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import not_found
from registry.lint import LintFinding
from registry.models import ServerSummary, ServerVersionInfo, StatusInfo, ToolInfo, utc
from registry.semver import semver_key
from registry.tables import (
    mcp_server,
    mcp_server_version,
    mcp_tool_definition,
    mcp_tool_risk,
    server_version_status,
)


async def find_version_row(conn: AsyncConnection, name: str, version: str, *, lock: bool = False) -> Any:
    """The mcp_server_version row joined with its server name, or None."""
    query = (
        select(mcp_server_version, mcp_server.c.name.label("server_name"))
        .join(mcp_server, mcp_server.c.id == mcp_server_version.c.server_id)
        .where(mcp_server.c.name == name, mcp_server_version.c.version == version)
    )
    if lock:
        query = query.with_for_update(of=mcp_server_version)
    return (await conn.execute(query)).mappings().first()


async def version_row(conn: AsyncConnection, name: str, version: str, *, lock: bool = False) -> Any:
    """Like :func:`find_version_row`, raising NOT_FOUND with a hint."""
    row = await find_version_row(conn, name, version, lock=lock)
    if row is None:
        raise not_found(f"{name}@{version} is not published: see `switchboard registry versions {name}`")
    return row


async def status_history(conn: AsyncConnection, server_version_id: str) -> list[StatusInfo]:
    rows = (
        await conn.execute(
            select(server_version_status)
            .where(server_version_status.c.server_version_id == server_version_id)
            .order_by(server_version_status.c.id)
        )
    ).mappings()
    return [_status_info(r) for r in rows]


def _status_info(row: Any) -> StatusInfo:
    return StatusInfo(row["status"], row["reason"], row["changed_by"], utc(row["changed_at"]))


async def current_statuses(conn: AsyncConnection, server_version_ids: list[str]) -> dict[str, StatusInfo]:
    """The latest status row of each server version."""
    if not server_version_ids:
        return {}
    latest = (
        select(func.max(server_version_status.c.id))
        .where(server_version_status.c.server_version_id.in_(server_version_ids))
        .group_by(server_version_status.c.server_version_id)
    )
    rows = (await conn.execute(select(server_version_status).where(server_version_status.c.id.in_(latest)))).mappings()
    return {
        r["server_version_id"]: StatusInfo(r["status"], r["reason"], r["changed_by"], utc(r["changed_at"]))
        for r in rows
    }


async def current_status(conn: AsyncConnection, server_version_id: str) -> StatusInfo:
    return (await current_statuses(conn, [server_version_id]))[server_version_id]


async def tool_infos(conn: AsyncConnection, server_version_id: str) -> list[ToolInfo]:
    risks = {
        r["tool_name"]: r["risk_class"]
        for r in (
            await conn.execute(select(mcp_tool_risk).where(mcp_tool_risk.c.server_version_id == server_version_id))
        ).mappings()
    }
    rows = (
        await conn.execute(
            select(mcp_tool_definition)
            .where(mcp_tool_definition.c.server_version_id == server_version_id)
            .order_by(mcp_tool_definition.c.name)
        )
    ).mappings()
    return [
        ToolInfo(
            r["name"],
            r["definition"],
            r["definition_sha256"],
            [LintFinding.from_dict(f) for f in r["lint_findings"] or []],
            risks.get(r["name"]),
        )
        for r in rows
    ]


def version_from_row(row: Any, status: StatusInfo) -> ServerVersionInfo:
    """A server version row (joined with ``server_name``) and its current status, without tools."""
    return ServerVersionInfo(
        id=row["id"],
        server=row["server_name"],
        version=row["version"],
        status=status.status,
        launch=row["launch_spec"],
        server_info=row["server_info"],
        protocol_version=row["protocol_version"],
        tools_manifest_sha256=row["tools_manifest_sha256"],
        tool_count=row["tool_count"],
        published_by=row["published_by"],
        published_at=utc(row["published_at"]),
    )


async def version_info(conn: AsyncConnection, name: str, version: str, *, tools: bool = True) -> ServerVersionInfo:
    """A server version with its status history and (optionally) its pinned tools."""
    row = await version_row(conn, name, version)
    history = await status_history(conn, row["id"])
    info = version_from_row(row, history[-1])
    info.history = history
    if tools:
        info.tools = await tool_infos(conn, row["id"])
    return info


async def list_versions(conn: AsyncConnection, name: str) -> list[ServerVersionInfo]:
    """Every version of a server, newest (by semver precedence) first."""
    server = (await conn.execute(select(mcp_server.c.id).where(mcp_server.c.name == name))).first()
    if server is None:
        raise not_found(f"no server named {name!r}: see `switchboard registry servers`")
    rows = (
        (
            await conn.execute(
                select(mcp_server_version, mcp_server.c.name.label("server_name"))
                .join(mcp_server, mcp_server.c.id == mcp_server_version.c.server_id)
                .where(mcp_server.c.name == name)
            )
        )
        .mappings()
        .all()
    )
    statuses = await current_statuses(conn, [r["id"] for r in rows])
    infos = [version_from_row(r, statuses[r["id"]]) for r in rows]
    return sorted(infos, key=lambda i: semver_key(i.version), reverse=True)


async def list_servers(conn: AsyncConnection) -> list[ServerSummary]:
    servers = (await conn.execute(select(mcp_server).order_by(mcp_server.c.name))).mappings().all()
    out = []
    for server in servers:
        versions = await list_versions(conn, server["name"])
        latest = versions[0] if versions else None
        out.append(
            ServerSummary(
                server["name"],
                server["description"],
                server["owner"],
                len(versions),
                latest.version if latest else None,
                latest.status if latest else None,
            )
        )
    return out


async def other_servers_tools(conn: AsyncConnection, server_name: str) -> dict[str, set[str]]:
    """Tool names of every other registered server (all versions), for the cross-server lint."""
    rows = await conn.execute(
        select(mcp_server.c.name, mcp_tool_definition.c.name)
        .join(mcp_server_version, mcp_server_version.c.server_id == mcp_server.c.id)
        .join(mcp_tool_definition, mcp_tool_definition.c.server_version_id == mcp_server_version.c.id)
        .where(mcp_server.c.name != server_name)
        .distinct()
    )
    out: dict[str, set[str]] = {}
    for server, tool in rows:
        out.setdefault(server, set()).add(tool)
    return out
