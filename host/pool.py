"""Connection pools per agent version, shared by that version's sessions.

:class:`AgentPool` holds one :class:`~host.connections.ServerConnection` per pinned server
version and the agent version's exposed tools, each enabled or disabled (drift, revocation,
identity mismatch). :class:`ConnectionPool` hands out one ``AgentPool`` per agent version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from host.connections import Connector, Drift, PoolStatus, ServerConnection, ServerPin
from host.tooling import ExposedTool

if TYPE_CHECKING:
    from registry.pinned import PinnedAgentVersion

log = logging.getLogger("switchboard.host.pool")

DRIFT_EVENT = "tool_definition_drift"


async def server_pins(pinned: PinnedAgentVersion) -> list[ServerPin]:
    """The pinned servers with the serverInfo name the registry recorded at publish."""
    from sqlalchemy import select

    from core.db import get_engine
    from registry.tables import mcp_server_version

    ids = [s.server_version_id for s in pinned.servers]
    names: dict[str, str | None] = {}
    if ids:
        engine = await get_engine()
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(mcp_server_version.c.id, mcp_server_version.c.server_info).where(
                    mcp_server_version.c.id.in_(ids)
                )
            )
            names = {r[0]: (r[1] or {}).get("name") for r in rows}
    return [
        ServerPin(s.name, s.version, s.server_version_id, dict(s.launch), names.get(s.server_version_id), s.status)
        for s in pinned.servers
    ]


def exposed_from_pinned(pinned: PinnedAgentVersion) -> list[ExposedTool]:
    return [
        ExposedTool(
            exposed_name=t.exposed_name,
            server_name=t.server_name,
            server_version=t.server_version,
            tool_name=t.tool_name,
            definition=t.definition,
            definition_sha256=t.definition_sha256,
            policy=t.policy,
            timeout_ms=t.timeout_ms,
            max_calls_per_turn=t.max_calls_per_turn,
            risk_class=t.risk_class,
        )
        for t in pinned.tools
    ]


class AgentPool:
    """The verified connections and exposed tools of one agent version."""

    def __init__(
        self,
        pinned: PinnedAgentVersion,
        pins: list[ServerPin],
        *,
        connector: Connector | None = None,
        audit_append: Any = None,
    ) -> None:
        self.pinned = pinned
        self.connections = {p.name: ServerConnection(p, org_id=pinned.org_id, connector=connector) for p in pins}
        self._pinned_tools = exposed_from_pinned(pinned)
        self._tools = list(self._pinned_tools)
        self._audit_append = audit_append
        self._audited_drift: set[tuple[str, str, str | None]] = set()
        self._verified_generation: dict[str, int] = {}
        self.drift: list[Drift] = []
        self.users = 0

    @property
    def agent_version_id(self) -> str:
        return self.pinned.id

    async def open(self) -> None:
        """Connect every server at once; a failure leaves the others working."""
        results = await asyncio.gather(*(c.connect() for c in self.connections.values()), return_exceptions=True)
        for conn, result in zip(self.connections.values(), results, strict=True):
            if isinstance(result, BaseException):
                conn.state = conn.state if conn.state in ("revoked", "mismatch", "changed") else "dead"
                conn.error = getattr(result, "message", None) or repr(result)
                log.warning("%s: %s", conn.label, conn.error)
        await self.verify_all()

    async def warm(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Ask every connected server to finish loading its models (see servers/kit/warm.py)."""
        from host.warmup import warm_connection

        conns = [c for c in self.connections.values() if c.ready]
        results = await asyncio.gather(*(warm_connection(c, timeout_s) for c in conns))
        return {c.label: r for c, r in zip(conns, results, strict=True)}

    async def verify_all(self) -> None:
        for conn in self.connections.values():
            await self.verify(conn)
        self._rebuild()

    async def verify(self, conn: ServerConnection) -> None:
        """Compare the live hashes of a (re)connected server with the pins; audit new drift."""
        if not conn.ready or self._verified_generation.get(conn.pin.name) == conn.generation:
            return
        self._verified_generation[conn.pin.name] = conn.generation
        self.drift = [d for d in self.drift if d.server_name != conn.pin.name]
        for tool in self._pinned_tools:
            if tool.server_name != conn.pin.name:
                continue
            observed = conn.live_hashes.get(tool.tool_name)
            if observed == tool.definition_sha256:
                continue
            drift = Drift(conn.pin.name, conn.pin.version, tool.tool_name, tool.definition_sha256, observed)
            self.drift.append(drift)
            await self._audit_drift(tool, drift)
        self._rebuild()

    async def _audit_drift(self, tool: ExposedTool, drift: Drift) -> None:
        key = (f"{drift.server_name}@{drift.server_version}", drift.tool_name, drift.observed_sha256)
        if key in self._audited_drift:
            return
        self._audited_drift.add(key)
        log.warning(
            "tool %s (%s@%s) disabled: live definition %s does not match pin %s",
            tool.exposed_name,
            drift.server_name,
            drift.server_version,
            (drift.observed_sha256 or "missing")[:12],
            drift.pinned_sha256[:12],
        )
        append = self._audit_append
        if append is None:
            from audit import append
        from audit import AuditEvent

        try:
            await append(
                AuditEvent(
                    org_id=self.pinned.org_id,
                    event_type=DRIFT_EVENT,
                    source="host",
                    actor="host",
                    agent_version_id=self.pinned.id,
                    manifest_sha256=self.pinned.manifest_sha256,
                    server_name=drift.server_name,
                    server_version=drift.server_version,
                    tool_name=drift.tool_name,
                    exposed_name=tool.exposed_name,
                    definition_sha256_pinned=drift.pinned_sha256,
                    definition_sha256_observed=drift.observed_sha256,
                    details={"action": "disabled", "missing": drift.observed_sha256 is None},
                )
            )
        except Exception as exc:
            log.error("could not audit drift of %s: %s", tool.exposed_name, exc)

    async def refresh_revocations(self) -> list[str]:
        """Re-read which bound server versions are revoked; refuse them from now on."""
        from registry.pinned import revoked_servers

        return await self.apply_revocations(set(await revoked_servers(self.pinned)))

    async def apply_revocations(self, revoked: set[str]) -> list[str]:
        """Refuse the bound server versions named (``name@version``) from now on."""
        for conn in self.connections.values():
            if conn.label in revoked and conn.state != "revoked":
                await conn.close()
                conn.state, conn.error = "revoked", "server version revoked"
        self._rebuild()
        return sorted(revoked)

    def _rebuild(self) -> None:
        drifted = {(d.server_name, d.tool_name): d for d in self.drift}
        tools = []
        for tool in self._pinned_tools:
            conn = self.connections.get(tool.server_name)
            reason = None
            if conn is None:
                reason = "its server is not pinned"
            elif conn.state == "revoked":
                reason = f"server version {conn.label} is revoked"
            elif conn.state == "changed":
                reason = str(conn.error)
            elif conn.state == "mismatch":
                reason = f"server {conn.label} did not identify as published: {conn.error}"
            elif (tool.server_name, tool.tool_name) in drifted:
                drift = drifted[(tool.server_name, tool.tool_name)]
                reason = (
                    "the server no longer offers it"
                    if drift.observed_sha256 is None
                    else "its live definition differs from the pinned one (drift)"
                )
            tools.append(dataclasses.replace(tool, enabled=reason is None, disabled_reason=reason))
        self._tools = tools

    def exposed_tools(self) -> list[ExposedTool]:
        return self._tools

    def tool(self, exposed_name: str) -> ExposedTool | None:
        return next((t for t in self._tools if t.exposed_name == exposed_name), None)

    def connection(self, server_name: str) -> ServerConnection | None:
        return self.connections.get(server_name)

    def status(self) -> PoolStatus:
        return PoolStatus(
            servers=[
                {
                    "server": c.pin.name,
                    "version": c.pin.version,
                    "state": c.state,
                    "error": c.error,
                    "protocol": c.protocol_version,
                    "server_info": c.server_info,
                }
                for c in self.connections.values()
            ],
            drift=list(self.drift),
        )

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections.values()), return_exceptions=True)


class ConnectionPool:
    """One :class:`AgentPool` per agent version, opened on first use and shared after."""

    def __init__(self, *, connector: Connector | None = None, audit_append: Any = None) -> None:
        self._connector = connector
        self._audit_append = audit_append
        self._pools: dict[str, AgentPool] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, org_id: str, slug: str, version: int | None = None) -> AgentPool:
        """The pool of ``slug@version`` (newest approved when None), revocations re-checked.

        An approved agent version never changes, so an open pool is reused after one short read
        (which version ``slug@version`` names now, and the current status of its servers); only
        a version without a pool is loaded in full.
        """
        from registry.pinned import load_agent_version

        pool, revoked = await self._known(org_id, slug, version)
        if pool is None:
            pinned = await load_agent_version(org_id, slug, version)
            async with self._lock:
                pool = self._pools.get(pinned.id)
                if pool is None:
                    pool = AgentPool(
                        pinned, await server_pins(pinned), connector=self._connector, audit_append=self._audit_append
                    )
                    await pool.open()
                    self._pools[pinned.id] = pool
            await pool.refresh_revocations()
        else:
            await pool.apply_revocations(revoked)
        pool.users += 1
        return pool

    async def _known(self, org_id: str, slug: str, version: int | None) -> tuple[AgentPool | None, set[str]]:
        """The open pool ``slug@version`` resolves to now and its revoked servers, in one read."""
        if not self._pools:
            return None, set()
        from sqlalchemy import select

        from core.db import get_pooled_engine
        from registry.models import REVOKED
        from registry.names import check_org, check_slug
        from registry.store import current_statuses
        from registry.tables import agent, agent_version

        check_org(org_id)
        check_slug(slug)
        query = (
            select(agent_version.c.id)
            .join(agent, agent.c.id == agent_version.c.agent_id)
            .where(agent.c.org_id == org_id, agent.c.slug == slug, agent_version.c.approved_at.is_not(None))
        )
        if version is None:
            query = query.order_by(agent_version.c.version.desc()).limit(1)
        else:
            query = query.where(agent_version.c.version == version)
        engine = await get_pooled_engine(pool_size=2, max_overflow=4)  # session starts: no new connection
        async with engine.connect() as conn:
            version_id = (await conn.execute(query)).scalar()
            pool = self._pools.get(version_id) if version_id else None
            if pool is None:
                return None, set()
            servers = pool.pinned.servers
            statuses = await current_statuses(conn, [s.server_version_id for s in servers])
        revoked = {f"{s.name}@{s.version}" for s in servers if statuses[s.server_version_id].status == REVOKED}
        return pool, revoked

    def release(self, pool: AgentPool) -> None:
        pool.users = max(0, pool.users - 1)

    def pools(self) -> list[AgentPool]:
        return list(self._pools.values())

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)
