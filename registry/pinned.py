"""The host's view of the registry: approved agent versions with everything pinned.

``load_agent_version`` answers "what may agent version N use?": the model, the system prompt,
each exposed tool with its pinned definition, hash, policy and risk class, the launch spec of
each bound server version, and the KB pins. ``is_revoked`` / ``server_version_status`` answer
whether a bound server version may still be used; the host checks them before each session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.canonical import canonical_sha256
from core.db import get_engine
from core.errors import conflict, not_found
from registry.agents import agent_row, kb_rows, tool_bindings
from registry.models import REVOKED, StatusInfo, utc
from registry.names import check_org, check_server_name, check_slug, check_version
from registry.store import current_statuses, version_row
from registry.tables import agent, agent_version


@dataclass(frozen=True, slots=True)
class PinnedTool:
    """One tool an agent version may use, exactly as pinned."""

    exposed_name: str
    server_name: str
    server_version: str
    server_version_id: str
    tool_name: str
    definition: dict[str, Any]
    definition_sha256: str
    policy: str  # never | confirm | approve
    timeout_ms: int
    max_calls_per_turn: int
    risk_class: str  # read | write | irreversible


@dataclass(frozen=True, slots=True)
class PinnedServer:
    """A bound server version and how to start or reach it."""

    name: str
    version: str
    server_version_id: str
    launch: dict[str, Any]  # {transport: stdio, command, args, cwd} | {transport: http, url, token_ref}
    tools_manifest_sha256: str
    status: str  # current status when loaded


@dataclass(frozen=True, slots=True)
class KbPin:
    kb_id: str
    kb_name: str | None
    version: str
    content_sha256: str | None


@dataclass(frozen=True, slots=True)
class PinnedAgentVersion:
    """An approved, frozen agent version: what the host runs a session with."""

    id: str
    org_id: str
    slug: str
    version: int
    model_provider: str
    model_id: str
    model_params: dict[str, Any]
    system_prompt: str
    system_prompt_sha256: str
    manifest: dict[str, Any]
    manifest_sha256: str
    approved_by: str
    approved_at: datetime
    tools: list[PinnedTool] = field(default_factory=list)
    servers: list[PinnedServer] = field(default_factory=list)
    kbs: list[KbPin] = field(default_factory=list)

    def tool(self, exposed_name: str) -> PinnedTool | None:
        """The pinned tool the model calls by ``exposed_name``, or None (not allowed)."""
        return next((t for t in self.tools if t.exposed_name == exposed_name), None)

    def server(self, name: str) -> PinnedServer | None:
        return next((s for s in self.servers if s.name == name), None)

    @property
    def kb_pins(self) -> list[tuple[str, str]]:
        return [(k.kb_id, k.version) for k in self.kbs]


async def _load(conn: Any, row: Any, org_id: str, slug: str) -> PinnedAgentVersion:
    tools = await tool_bindings(conn, row["id"])
    statuses = await current_statuses(conn, sorted({t["server_version_id"] for t in tools}))
    servers: dict[str, PinnedServer] = {}
    for t in tools:
        servers.setdefault(
            t["server_version_id"],
            PinnedServer(
                t["server_name"],
                t["server_version"],
                t["server_version_id"],
                t["launch_spec"],
                t["tools_manifest_sha256"],
                statuses[t["server_version_id"]].status,
            ),
        )
    pinned = PinnedAgentVersion(
        id=row["id"],
        org_id=org_id,
        slug=slug,
        version=row["version"],
        model_provider=row["model_provider"],
        model_id=row["model_id"],
        model_params=row["model_params"],
        system_prompt=row["system_prompt"],
        system_prompt_sha256=row["system_prompt_sha256"],
        manifest=row["manifest"],
        manifest_sha256=row["manifest_sha256"],
        approved_by=row["approved_by"],
        approved_at=utc(row["approved_at"]),
        tools=[
            PinnedTool(
                t["exposed_name"],
                t["server_name"],
                t["server_version"],
                t["server_version_id"],
                t["tool_name"],
                t["definition"],
                t["definition_sha256"],
                t["policy"],
                t["timeout_ms"],
                t["max_calls_per_turn"],
                t["risk_class"],
            )
            for t in tools
        ],
        servers=sorted(servers.values(), key=lambda s: (s.name, s.version)),
        kbs=[
            KbPin(k["kb_id"], k["kb_name"], k["kb_version"], k["content_sha256"])
            for k in await kb_rows(conn, row["id"])
        ],
    )
    if canonical_sha256(pinned.manifest) != pinned.manifest_sha256:
        raise conflict(f"{slug}@{pinned.version}: the stored manifest does not match its manifest_sha256")
    return pinned


async def load_agent_version(org_id: str, slug: str, version: int | None = None) -> PinnedAgentVersion:
    """An approved agent version with its pinned tools, policies, launch specs and KB pins.

    ``version=None`` loads the newest approved version. Drafts are never loaded.
    """
    check_org(org_id)
    check_slug(slug)
    engine = await get_engine()
    async with engine.connect() as conn:
        owner = await agent_row(conn, org_id, slug)
        query = select(agent_version).where(
            agent_version.c.agent_id == owner["id"], agent_version.c.approved_at.is_not(None)
        )
        if version is None:
            query = query.order_by(agent_version.c.version.desc()).limit(1)
        else:
            query = query.where(agent_version.c.version == version)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            what = f"{slug}@{version}" if version is not None else slug
            raise not_found(
                f"no approved version of {what} in org {org_id}: "
                f"approve a draft with `switchboard registry agent approve {slug}@<n> --org {org_id}`"
            )
        return await _load(conn, row, org_id, slug)


async def load_agent_version_by_id(agent_version_id: str) -> PinnedAgentVersion:
    """The approved agent version with this id (as recorded on sessions and audit events)."""
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(agent_version, agent.c.org_id, agent.c.slug)
                    .join(agent, agent.c.id == agent_version.c.agent_id)
                    .where(agent_version.c.id == agent_version_id, agent_version.c.approved_at.is_not(None))
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise not_found(f"no approved agent version with id {agent_version_id}")
        return await _load(conn, row, row["org_id"], row["slug"])


async def server_version_status(server_name: str, version: str) -> StatusInfo:
    """The current status of a published server version (NOT_FOUND when it was never published)."""
    check_server_name(server_name)
    check_version(version)
    engine = await get_engine()
    async with engine.connect() as conn:
        row = await version_row(conn, server_name, version)
        return (await current_statuses(conn, [row["id"]]))[row["id"]]


async def is_revoked(server_name: str, version: str) -> bool:
    """True when ``server_name@version`` is revoked. Unknown versions raise NOT_FOUND (fail closed)."""
    return (await server_version_status(server_name, version)).status == REVOKED


async def revoked_servers(pinned: PinnedAgentVersion) -> list[str]:
    """The ``name@version`` of every server of ``pinned`` that is revoked now."""
    engine = await get_engine()
    async with engine.connect() as conn:
        statuses = await current_statuses(conn, [s.server_version_id for s in pinned.servers])
    return [f"{s.name}@{s.version}" for s in pinned.servers if statuses[s.server_version_id].status == REVOKED]


__all__ = [
    "KbPin",
    "PinnedAgentVersion",
    "PinnedServer",
    "PinnedTool",
    "is_revoked",
    "load_agent_version",
    "load_agent_version_by_id",
    "revoked_servers",
    "server_version_status",
]
