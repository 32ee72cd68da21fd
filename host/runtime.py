"""The host process's shared parts: connection pools, gateways, providers, records.

The WebSocket app, ``switchboard chat``, the demo and the benchmark all start sessions here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from core.context import customer_ref_problem
from core.errors import invalid
from host.engine import AgentProfile, Conversation, EngineSettings
from host.gateway import Gateway
from host.pool import AgentPool, ConnectionPool
from host.providers import Provider, make_provider, resolve_provider_name
from host.store import RecordStore

log = logging.getLogger("switchboard.host.runtime")


def parse_agent_ref(ref: str) -> tuple[str, int | None]:
    """``cs-agent`` → (cs-agent, None); ``cs-agent@2`` → (cs-agent, 2)."""
    from registry.names import parse_agent_ref as registry_parse

    return registry_parse(ref)


def profile_of(pinned: Any, provider_name: str) -> AgentProfile:
    return AgentProfile(
        org_id=pinned.org_id,
        agent_slug=pinned.slug,
        agent_version=pinned.version,
        agent_version_id=pinned.id,
        manifest_sha256=pinned.manifest_sha256,
        provider=provider_name,
        model=pinned.model_id if provider_name == pinned.model_provider else "",
        model_params=dict(pinned.model_params or {}),
        system_prompt=pinned.system_prompt,
        kb_pins=tuple({"kb_id": k.kb_id, "version": k.version} for k in pinned.kbs),
    )


@dataclass
class HostRuntime:
    """Pools per agent version, one gateway per pool, shared providers."""

    provider_override: str | None = None
    settings: EngineSettings = field(default_factory=EngineSettings)
    connector: Any = None
    audit_append: Any = None
    provider_factory: Any = None  # (name, model, params) -> Provider; tests and benchmarks swap it
    store: RecordStore = field(default_factory=RecordStore)
    notes: list[str] = field(default_factory=list)
    log_notes: bool = True  # False when the caller shows ``notes`` itself (``switchboard chat``): said once

    def __post_init__(self) -> None:
        self.pool = ConnectionPool(connector=self.connector, audit_append=self.audit_append)
        self._gateways: dict[str, Gateway] = {}
        self._providers: dict[tuple[str, str], Provider] = {}
        self._lock = asyncio.Lock()

    async def agent(self, org_id: str, agent_ref: str) -> tuple[AgentPool, Gateway]:
        slug, version = parse_agent_ref(agent_ref)
        pool = await self.pool.acquire(org_id, slug, version)
        gateway = self._gateways.get(pool.agent_version_id)
        if gateway is None:
            gateway = self._gateways[pool.agent_version_id] = Gateway(
                pool, store=self.store, audit_append=self.audit_append
            )
        return pool, gateway

    async def warm(self, org_id: str, agent_ref: str) -> dict[str, Any]:
        """Connect the agent version's pinned servers and wait until their models are loaded."""
        pool, _ = await self.agent(org_id, agent_ref)
        self.pool.release(pool)
        return await pool.warm()

    def provider_for(self, pinned: Any) -> tuple[str, Provider]:
        name, note = resolve_provider_name(pinned.model_provider, self.provider_override)
        if note and note not in self.notes:
            self.notes.append(note)
            if self.log_notes:
                log.warning(note)
        model = pinned.model_id if name == pinned.model_provider else ""
        key = (name, model)
        provider = self._providers.get(key)
        if provider is None:
            factory = self.provider_factory or (lambda n, m, p: make_provider(n, model=m or None, params=p))
            provider = self._providers[key] = factory(name, model, dict(pinned.model_params or {}))
        return name, provider

    async def start_session(
        self,
        org_id: str,
        agent_ref: str,
        *,
        customer_ref: str | None = None,
        channel: str = "chat",
        caller: str | None = None,
        language: str | None = None,
        emit: Any = None,
    ) -> Conversation:
        """A new session bound to the agent version ``agent_ref`` resolves to now."""
        if customer_ref is not None and (problem := customer_ref_problem(customer_ref)):
            raise invalid(f"customer_ref {problem}")
        if language not in (None, "ko", "en"):
            raise invalid(f"language must be ko or en, not {language!r}")
        pool, gateway = await self.agent(org_id, agent_ref)
        name, provider = self.provider_for(pool.pinned)
        return await Conversation.start(
            profile=profile_of(pool.pinned, name),
            layer=gateway,
            provider=provider,
            store=self.store,
            customer_ref=customer_ref,
            channel=channel,
            caller=caller,
            language=language,
            settings=self.settings,
            emit=emit,
        )

    async def resume_session(self, session_id: str, *, org_id: str, emit: Any = None) -> Conversation:
        """Carry on a session (another worker may have started it): same agent version for life."""
        from core.errors import not_found
        from registry.pinned import load_agent_version_by_id

        row = await self.store.get_session(session_id)
        if row["org_id"] != org_id:
            raise not_found(f"no session {session_id}")
        pinned = await load_agent_version_by_id(row["agent_version_id"])
        pool, gateway = await self.agent(org_id, f"{pinned.slug}@{pinned.version}")
        name, provider = self.provider_for(pool.pinned)
        return await Conversation.resume(
            session_id,
            profile=profile_of(pool.pinned, name),
            layer=gateway,
            provider=provider,
            store=self.store,
            settings=self.settings,
            emit=emit,
        )

    def status(self) -> list[dict[str, Any]]:
        out = []
        for pool in self.pool.pools():
            st = pool.status()
            out.append(
                {
                    "agent": f"{pool.pinned.slug}@{pool.pinned.version}",
                    "agent_version_id": pool.agent_version_id,
                    "servers": st.servers,
                    "disabled_tools": [
                        {"exposed_name": t.exposed_name, "reason": t.disabled_reason}
                        for t in pool.exposed_tools()
                        if not t.enabled
                    ],
                }
            )
        return out

    async def close(self) -> None:
        await self.pool.close()
        for provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception:
                log.debug("provider close failed", exc_info=True)
        await self.store.aclose()
        import audit

        await audit.close()
