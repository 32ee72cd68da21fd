"""A fresh tenant (org) per scenario run: the demo shop, the KB, the customer's memories, the agent.

Seeding goes through the servers' own public functions (order seed, KB demo loader, memory
service), never copies. The agent version under test is cloned into the fresh org with the same
model, system prompt, tool bindings and policies; its KB pin points at the fresh org's copy of
the knowledge base (the demo documents plus any the scenario adds).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from core.errors import unavailable
from registry.specs import ToolSpec

EVAL_ACTOR = "eval"


@dataclass(frozen=True, slots=True)
class SourceAgent:
    """What is copied of the agent version under test (a draft or an approved version)."""

    org_id: str
    slug: str
    version: int
    agent_version_id: str
    state: str
    model: str
    model_params: dict[str, Any]
    system_prompt: str
    tools: tuple[ToolSpec, ...]

    @property
    def ref(self) -> str:
        return f"{self.slug}@{self.version}"


async def load_source(org_id: str, agent_ref: str) -> SourceAgent:
    """``cs-agent@3`` (draft or approved) or ``cs-agent`` (the newest version) in ``org_id``."""
    from sqlalchemy import select

    from core.db import get_engine
    from registry.agents import agent_version_info
    from registry.names import parse_agent_ref
    from registry.tables import agent_version

    slug, number = parse_agent_ref(agent_ref)
    info = await agent_version_info(org_id, slug, number)
    engine = await get_engine()
    async with engine.connect() as conn:
        prompt = (
            await conn.execute(select(agent_version.c.system_prompt).where(agent_version.c.id == info.id))
        ).scalar_one()
    tools = tuple(
        ToolSpec(t.server_name, t.server_version, t.tool_name, t.policy, t.timeout_ms, t.max_calls_per_turn)
        for t in info.tools
    )
    return SourceAgent(
        org_id,
        slug,
        info.version,
        info.id,
        info.state,
        f"{info.model_provider}:{info.model_id}",
        dict(info.model_params or {}),
        prompt,
        tools,
    )


@dataclass(frozen=True, slots=True)
class Tenant:
    org_id: str
    agent_ref: str
    kb_id: str
    kb_version: str


def fresh_org(scenario_id: str, trial: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in scenario_id)[:60]
    return f"eval-{safe}-t{trial}-{uuid.uuid4().hex[:8]}"


async def setup_tenant(org_id: str, source: SourceAgent, initial: dict[str, Any]) -> Tenant:
    """Seed ``org_id`` from the scenario's initial state and freeze a copy of ``source`` there."""
    from servers.kb_server.demo import DEMO_NAME, load_demo
    from servers.kb_server.store import UploadItem, upload
    from servers.order_server.seed import seed

    await seed(org_id)
    kb = await load_demo(org_id)
    version = kb.version
    extra = initial.get("kb_documents") or []
    if extra:
        items = [UploadItem(d["name"], d["text"].encode("utf-8"), source=f"eval/{d['name']}") for d in extra]
        added = await upload(org_id, DEMO_NAME, items)
        version = added.version
        from servers.kb_server.indexes import version_index

        await version_index(org_id, added.kb_id, added.version)
    await wait_for_vectors(org_id, kb.kb_id, int(version))
    customer = initial.get("customer")
    memories = initial.get("memories") or []
    if customer and memories:
        await add_memories(org_id, customer, memories)
    ref = await clone_agent(org_id, source, DEMO_NAME, str(version))
    return Tenant(org_id, ref, kb.kb_id, str(version))


VECTORS_TIMEOUT_S = 120.0


async def wait_for_vectors(org_id: str, kb_id: str, version: int, timeout: float = VECTORS_TIMEOUT_S) -> None:
    """Wait until the KB server has embedded every passage of the scenario's KB version.

    A scenario must see the same search a production KB gives once its upload is embedded; without
    the wait, whether a question got keyword-only or hybrid results would depend on how far the
    server's background embedder happened to be, and a run could pass or fail by timing alone.
    """
    from servers.kb_server.vectors import progress_counts
    from servers.retrieval.embedding import get_embedder

    model_id = get_embedder().model_id
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        done, total = await progress_counts(org_id, kb_id, version, model_id)
        if done >= total:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise unavailable(
                f"the KB server embedded {done} of {total} passages of {org_id}'s KB in {timeout:.0f} s; "
                "see its log under SWITCHBOARD_HOME/logs/eval-kb.log"
            )
        await asyncio.sleep(0.2)


async def add_memories(org_id: str, customer: str, texts: list[str]) -> None:
    from servers.memory_server.extract import from_text
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    await get_service().add(Scope(org_id, customer, actor=EVAL_ACTOR), [from_text(t) for t in texts])


async def clone_agent(org_id: str, source: SourceAgent, kb_name: str, kb_version: str) -> str:
    """The source agent version's bindings, frozen in ``org_id`` as ``<slug>@1``."""
    from registry.agents import approve_agent_version, create_agent, draft_agent_version
    from registry.specs import KbSpec

    kbs = [KbSpec(kb_name, kb_version)]
    await create_agent(org_id, source.slug, created_by=EVAL_ACTOR)
    draft = await draft_agent_version(
        org_id,
        source.slug,
        model=source.model,
        system_prompt=source.system_prompt,
        tools=list(source.tools),
        kbs=kbs,
        model_params=dict(source.model_params or {}),
        drafted_by=EVAL_ACTOR,
    )
    approved = await approve_agent_version(org_id, source.slug, draft.version, approved_by=EVAL_ACTOR)
    return f"{source.slug}@{approved.version}"
