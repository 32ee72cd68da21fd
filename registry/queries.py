"""Read-only registry queries for the CLI and other packages."""

from __future__ import annotations

from core.db import get_engine
from registry.agents import list_agent_versions, list_agents
from registry.models import AgentVersionInfo, ServerSummary, ServerVersionInfo
from registry.names import check_server_name, parse_server_ref
from registry.store import list_servers, list_versions, version_info


async def all_servers() -> list[ServerSummary]:
    engine = await get_engine()
    async with engine.connect() as conn:
        return await list_servers(conn)


async def server_versions(name: str) -> list[ServerVersionInfo]:
    check_server_name(name)
    engine = await get_engine()
    async with engine.connect() as conn:
        return await list_versions(conn, name)


async def show_version(ref: str) -> ServerVersionInfo:
    """``name@version`` with its tools, risk classes, status history and lint findings."""
    name, version = parse_server_ref(ref)
    engine = await get_engine()
    async with engine.connect() as conn:
        return await version_info(conn, name, version)


async def orgs_with_agents(limit: int = 10) -> list[str]:
    """Orgs that have an agent (for a hint when a command names another)."""
    from sqlalchemy import select

    from registry.tables import agent

    engine = await get_engine()
    async with engine.connect() as conn:
        query = select(agent.c.org_id).distinct().order_by(agent.c.org_id).limit(limit)
        return [r[0] for r in (await conn.execute(query)).all()]


async def agents_with_versions(org_id: str) -> list[AgentVersionInfo]:
    """Every version of every agent of an org, newest first per agent."""
    out: list[AgentVersionInfo] = []
    for info in await list_agents(org_id):
        out.extend(await list_agent_versions(org_id, info.slug))
    return out
