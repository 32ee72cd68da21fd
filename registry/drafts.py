"""A new draft copied from an earlier agent version, changed only where the operator says.

``registry agent draft cs-agent --from cs-agent@2 --server orders@1.1.0`` copies version 2's
model, parameters, system prompt, tool bindings (with their policies, timeouts and limits) and KB
pins, moves every orders tool to 1.1.0, and saves the result as the agent's next draft through
:func:`registry.agents.draft_agent_version`, which checks it like any other draft. The source may
be a draft or an approved version, of this agent or another agent of the same org.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from core.db import get_engine
from core.errors import ErrorCode, SwitchboardError, invalid, not_found
from registry.agents import agent_version_info, draft_agent_version
from registry.models import AgentVersionInfo
from registry.names import check_org, exposed_name, parse_agent_ref, parse_server_ref
from registry.specs import KbSpec, ToolSpec
from registry.tables import agent_version


@dataclass(slots=True)
class DraftChanges:
    """What to change on the copy; everything left empty is copied as it is."""

    model: str | None = None
    system_prompt: str | None = None
    # added, or replacing the same server tool: policy, timeout and limit not written are kept
    tools: list[ToolSpec] = field(default_factory=list)
    drop_tools: list[str] = field(default_factory=list)  # exposed names (orders__get_order) or tool names
    servers: list[str] = field(default_factory=list)  # NAME@VERSION: move that server's tools to VERSION
    kbs: list[KbSpec] = field(default_factory=list)  # added, or replacing the pin of the same KB
    drop_kbs: list[str] = field(default_factory=list)  # KB names or ids
    model_params: dict[str, Any] = field(default_factory=dict)  # merged over the copied ones


async def _source_prompt(version_id: str) -> str:
    engine = await get_engine()
    async with engine.connect() as conn:
        prompt = (
            await conn.execute(select(agent_version.c.system_prompt).where(agent_version.c.id == version_id))
        ).scalar()
    return prompt or ""


def _copied_tools(source: AgentVersionInfo, changes: DraftChanges) -> list[ToolSpec]:
    specs = {
        (t.server_name, t.tool_name): ToolSpec(
            t.server_name, t.server_version, t.tool_name, t.policy, t.timeout_ms, t.max_calls_per_turn
        )
        for t in source.tools
    }
    for ref in changes.servers:
        name, version = parse_server_ref(ref)
        moved = {key: replace(spec, version=version) for key, spec in specs.items() if spec.server == name}
        if not moved:
            raise invalid(f"--server {ref}: {source.ref} binds no tool of {name!r} (it binds: {_servers(source)})")
        specs.update(moved)
    for drop in changes.drop_tools:
        keys = [k for k in specs if drop in (exposed_name(*k), k[1])]
        if len(keys) != 1:
            bound = ", ".join(sorted(exposed_name(*k) for k in specs)) or "none"
            problem = "names several tools" if keys else "is not bound"
            raise invalid(f"--drop-tool {drop!r} {problem}: give an exposed name (bound: {bound})")
        del specs[keys[0]]
    for spec in changes.tools:
        copied = specs.get((spec.server, spec.tool))
        specs[(spec.server, spec.tool)] = spec if copied is None else spec.over(copied)
    return list(specs.values())


def _servers(source: AgentVersionInfo) -> str:
    return ", ".join(sorted({f"{t.server_name}@{t.server_version}" for t in source.tools})) or "none"


def _copied_kbs(source: AgentVersionInfo, changes: DraftChanges) -> list[KbSpec]:
    pins: dict[str, KbSpec] = {}
    names: dict[str, str] = {}
    for k in source.kbs:
        pins[k.kb_id] = KbSpec(k.kb_id, k.kb_version)
        if k.kb_name:
            names[k.kb_name] = k.kb_id
    for drop in changes.drop_kbs:
        key = names.get(drop, drop)
        if key not in pins:
            raise invalid(f"--drop-kb {drop!r}: {source.ref} does not pin it (pins: {', '.join(pins) or 'none'})")
        del pins[key]
    for spec in changes.kbs:
        pins.pop(names.get(spec.ref, spec.ref), None)
        pins[spec.ref] = spec
    return list(pins.values())


async def draft_from(
    org_id: str, slug: str, source_ref: str, changes: DraftChanges, *, drafted_by: str
) -> tuple[AgentVersionInfo, AgentVersionInfo]:
    """(source, new draft): the agent's next draft as a copy of ``source_ref`` (SLUG@N) with ``changes``."""
    check_org(org_id)
    source_slug, number = parse_agent_ref(source_ref)
    if number is None:
        raise invalid(f"--from {source_ref!r}: say which version to copy, e.g. --from {source_slug}@1")
    try:
        source = await agent_version_info(org_id, source_slug, number)
    except SwitchboardError as err:
        if err.code is ErrorCode.NOT_FOUND:
            raise not_found(
                f"--from {source_ref}: no such version in org {org_id} "
                f"(see `switchboard registry agent list --org {org_id}`)"
            ) from None
        raise
    prompt = changes.system_prompt
    if prompt is None:
        prompt = await _source_prompt(source.id)
    draft = await draft_agent_version(
        org_id,
        slug,
        model=changes.model or f"{source.model_provider}:{source.model_id}",
        system_prompt=prompt,
        tools=_copied_tools(source, changes),
        kbs=_copied_kbs(source, changes),
        model_params={**(source.model_params or {}), **changes.model_params},
        drafted_by=drafted_by,
    )
    return source, draft
