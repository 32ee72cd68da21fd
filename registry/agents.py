"""Agents and agent versions: drafts an operator edits, frozen by approval into a manifest.

An approved agent version never changes (database triggers enforce it). Approval checks that
every bound server version is approved (not pending, rejected, deprecated or revoked), that the
exposed tool names are unique, and that pinned KB versions exist (when the KB tables exist),
then computes ``manifest_sha256`` over the model, the prompt's hash, the tools with their
definition hashes, risk classes and policies, the server versions and the KB versions.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.canonical import canonical_sha256, sha256_hex
from core.db import get_engine, write_transaction
from core.errors import conflict, invalid, not_found
from registry.events import AGENT_VERSION_APPROVED, record_event
from registry.kb import kb_tables_present, resolve_kb_pin
from registry.models import APPROVED, PENDING_REVIEW, AgentInfo, AgentVersionInfo, KbBinding, ToolBinding, utc
from registry.names import EXPOSED_NAME, check_actor, check_org, check_slug, exposed_name
from registry.specs import KbSpec, ToolSpec, parse_model
from registry.store import current_statuses, find_version_row
from registry.tables import (
    agent,
    agent_version,
    agent_version_kb,
    agent_version_tool,
    mcp_server,
    mcp_server_version,
    mcp_tool_definition,
    mcp_tool_risk,
)

MANIFEST_FORMAT = "switchboard.agent-manifest/1"
MAX_PROMPT_CHARS = 200_000


def _agent_info(row: Any) -> AgentInfo:
    return AgentInfo(row["id"], row["org_id"], row["slug"], row["created_by"], utc(row["created_at"]))


async def agent_row(conn: AsyncConnection, org_id: str, slug: str) -> Any:
    row = (await conn.execute(select(agent).where(agent.c.org_id == org_id, agent.c.slug == slug))).mappings().first()
    if row is None:
        raise not_found(await _missing_agent(conn, org_id, slug))
    return row


async def _missing_agent(conn: AsyncConnection, org_id: str, slug: str) -> str:
    """Why ``slug`` is not found, with what exists: a typo'd agent or org names the near ones."""
    import difflib

    here = list((await conn.execute(select(agent.c.slug).where(agent.c.org_id == org_id))).scalars())
    said = f"no agent {slug!r} in org {org_id}"
    close = difflib.get_close_matches(slug, here, n=3, cutoff=0.6)
    if close:
        return f"{said}: did you mean {', '.join(close)}? (agents of {org_id}: {', '.join(sorted(here)[:10])})"
    if here:
        create = f"switchboard registry agent create {slug} --org {org_id}"
        return f"{said}; its agents: {', '.join(sorted(here)[:10])} (or create it with `{create}`)"
    orgs = sorted(set((await conn.execute(select(agent.c.org_id).where(agent.c.slug == slug))).scalars()))
    if orgs:
        return f"{said}; orgs with an agent {slug!r}: {', '.join(orgs[:10])} (check --org)"
    return f"{said}: create it with `switchboard registry agent create {slug} --org {org_id}`"


async def create_agent(org_id: str, slug: str, *, created_by: str) -> AgentInfo:
    """A new agent (no versions yet). Refused when the org already has that slug."""
    check_org(org_id)
    check_slug(slug)
    created_by = check_actor(created_by)
    engine = await get_engine()
    row = {"id": str(uuid.uuid4()), "org_id": org_id, "slug": slug, "created_by": created_by}
    row["created_at"] = datetime.now(UTC)
    try:
        async with write_transaction(engine, immediate=True) as conn:
            existing = (
                await conn.execute(select(agent.c.id).where(agent.c.org_id == org_id, agent.c.slug == slug))
            ).first()
            if existing is not None:
                raise conflict(f"org {org_id} already has an agent {slug!r}")
            await conn.execute(insert(agent).values(**row))
    except IntegrityError:
        raise conflict(f"org {org_id} already has an agent {slug!r}") from None
    return _agent_info(row)


async def get_agent(org_id: str, slug: str) -> AgentInfo:
    engine = await get_engine()
    async with engine.connect() as conn:
        return _agent_info(await agent_row(conn, check_org(org_id), check_slug(slug)))


async def list_agents(org_id: str) -> list[AgentInfo]:
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(agent).where(agent.c.org_id == check_org(org_id)).order_by(agent.c.slug))
        ).mappings()
        return [_agent_info(r) for r in rows]


async def _resolve_tools(conn: AsyncConnection, specs: list[ToolSpec]) -> list[dict[str, Any]]:
    """Binding rows for the tool specs: each server version and tool must exist."""
    rows = []
    for spec in specs:
        version = await find_version_row(conn, spec.server, spec.version)
        if version is None:
            raise not_found(
                f"--tool {spec.server}@{spec.version}:{spec.tool}: {spec.server}@{spec.version} is not published"
            )
        names = set(
            (
                await conn.execute(
                    select(mcp_tool_definition.c.name).where(mcp_tool_definition.c.server_version_id == version["id"])
                )
            ).scalars()
        )
        if spec.tool not in names:
            raise not_found(
                f"--tool: {spec.server}@{spec.version} has no tool {spec.tool!r} (it has: {', '.join(sorted(names))})"
            )
        exposed = exposed_name(spec.server, spec.tool)
        if not EXPOSED_NAME.match(exposed):
            raise invalid(
                f"--tool: the exposed name {exposed!r} is not usable by model providers ([A-Za-z0-9_-], at most 64)"
            )
        rows.append(
            {
                "server_version_id": version["id"],
                "server_name": spec.server,
                "server_version": spec.version,
                "tool_name": spec.tool,
                "exposed_name": exposed,
                "policy": spec.policy,
                "timeout_ms": spec.timeout_ms,
                "max_calls_per_turn": spec.max_calls_per_turn,
            }
        )
    check_bindings(rows)
    return rows


def check_exposed_names(names: list[str]) -> None:
    """Refuse two bindings that the model would see under the same name."""
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise conflict(
            f"exposed tool names collide: {', '.join(duplicates)} (bind each tool once, from one version of its server)"
        )


def check_bindings(bindings: list[dict[str, Any]]) -> None:
    """Unique exposed names, and one version per server (the host runs one process per server)."""
    check_exposed_names([b["exposed_name"] for b in bindings])
    versions: dict[str, set[str]] = {}
    for b in bindings:
        versions.setdefault(b["server_name"], set()).add(b["server_version"])
    mixed = sorted(f"{name} ({', '.join(sorted(v))})" for name, v in versions.items() if len(v) > 1)
    if mixed:
        raise conflict(f"bind one version per server in an agent version; several bound: {'; '.join(mixed)}")


async def draft_agent_version(
    org_id: str,
    slug: str,
    *,
    model: str,
    system_prompt: str,
    tools: list[ToolSpec],
    kbs: list[KbSpec] | None = None,
    model_params: dict[str, Any] | None = None,
    drafted_by: str,
) -> AgentVersionInfo:
    """Create the agent's next version as a draft, or replace its open draft."""
    check_org(org_id)
    check_slug(slug)
    drafted_by = check_actor(drafted_by)
    provider, model_id = parse_model(model)
    if not system_prompt.strip():
        raise invalid("the system prompt is empty: pass a prompt file with --prompt-file")
    if len(system_prompt) > MAX_PROMPT_CHARS:
        raise invalid(f"the system prompt is longer than {MAX_PROMPT_CHARS} characters")
    kbs = kbs or []
    kb_refs = Counter(k.ref for k in kbs)
    if any(c > 1 for c in kb_refs.values()):
        raise invalid("pin each knowledge base once (--kb <kb>@<version>)")
    engine = await get_engine()
    now = datetime.now(UTC)
    async with write_transaction(engine, immediate=True) as conn:
        owner = await agent_row(conn, org_id, slug)
        bindings = await _resolve_tools(conn, tools)
        if kbs and await kb_tables_present(conn):  # a pin to a KB version that does not exist fails now
            for k in kbs:
                await resolve_kb_pin(conn, org_id, k.ref, k.version)
        statuses = await current_statuses(conn, sorted({b["server_version_id"] for b in bindings}))
        for b in bindings:
            status = statuses[b["server_version_id"]].status
            if status not in (APPROVED, PENDING_REVIEW):
                raise conflict(
                    f"{b['server_name']}@{b['server_version']} is {status}: bind an approved version instead"
                )
        values = {
            "model_provider": provider,
            "model_id": model_id,
            "model_params": model_params or {},
            "system_prompt": system_prompt,
            "system_prompt_sha256": sha256_hex(system_prompt),
            "drafted_by": drafted_by,
            "drafted_at": now,
        }
        draft = (
            (
                await conn.execute(
                    select(agent_version.c.id, agent_version.c.version).where(
                        agent_version.c.agent_id == owner["id"], agent_version.c.approved_at.is_(None)
                    )
                )
            )
            .mappings()
            .first()
        )
        if draft is None:
            latest = (
                await conn.execute(
                    select(func.max(agent_version.c.version)).where(agent_version.c.agent_id == owner["id"])
                )
            ).scalar()
            version_id, number = str(uuid.uuid4()), (latest or 0) + 1
            await conn.execute(
                insert(agent_version).values(id=version_id, agent_id=owner["id"], version=number, **values)
            )
        else:
            version_id, number = draft["id"], draft["version"]
            await conn.execute(update(agent_version).where(agent_version.c.id == version_id).values(**values))
            await conn.execute(delete(agent_version_tool).where(agent_version_tool.c.agent_version_id == version_id))
            await conn.execute(delete(agent_version_kb).where(agent_version_kb.c.agent_version_id == version_id))
        if bindings:
            await conn.execute(
                insert(agent_version_tool),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "agent_version_id": version_id,
                        **{k: b[k] for k in ("server_version_id", "tool_name", "exposed_name", "policy")},
                        "timeout_ms": b["timeout_ms"],
                        "max_calls_per_turn": b["max_calls_per_turn"],
                    }
                    for b in bindings
                ],
            )
        if kbs:
            await conn.execute(
                insert(agent_version_kb),
                [
                    {"id": str(uuid.uuid4()), "agent_version_id": version_id, "kb_id": k.ref, "kb_version": k.version}
                    for k in kbs
                ],
            )
        return await _version_info(conn, org_id, slug, number)


async def tool_bindings(conn: AsyncConnection, version_id: str) -> list[dict[str, Any]]:
    """Tool bindings joined with their server version, definition and risk class."""
    query = (
        select(
            agent_version_tool,
            mcp_server.c.name.label("server_name"),
            mcp_server_version.c.version.label("server_version"),
            mcp_server_version.c.tools_manifest_sha256,
            mcp_server_version.c.launch_spec,
            mcp_tool_definition.c.definition,
            mcp_tool_definition.c.definition_sha256,
            mcp_tool_risk.c.risk_class,
        )
        .join(mcp_server_version, mcp_server_version.c.id == agent_version_tool.c.server_version_id)
        .join(mcp_server, mcp_server.c.id == mcp_server_version.c.server_id)
        .outerjoin(
            mcp_tool_definition,
            (mcp_tool_definition.c.server_version_id == agent_version_tool.c.server_version_id)
            & (mcp_tool_definition.c.name == agent_version_tool.c.tool_name),
        )
        .outerjoin(
            mcp_tool_risk,
            (mcp_tool_risk.c.server_version_id == agent_version_tool.c.server_version_id)
            & (mcp_tool_risk.c.tool_name == agent_version_tool.c.tool_name),
        )
        .where(agent_version_tool.c.agent_version_id == version_id)
        .order_by(agent_version_tool.c.exposed_name)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def kb_rows(conn: AsyncConnection, version_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(agent_version_kb)
        .where(agent_version_kb.c.agent_version_id == version_id)
        .order_by(agent_version_kb.c.kb_id)
    )
    return [dict(r) for r in rows.mappings()]


def build_manifest(
    *,
    model_provider: str,
    model_id: str,
    model_params: dict[str, Any],
    system_prompt_sha256: str,
    tools: list[dict[str, Any]],
    kbs: list[KbBinding],
) -> dict[str, Any]:
    """The agent version manifest: exactly what ``manifest_sha256`` covers."""
    servers = {(t["server_name"], t["server_version"]): t["tools_manifest_sha256"] for t in tools}
    return {
        "format": MANIFEST_FORMAT,
        "model": {"provider": model_provider, "id": model_id, "params": model_params},
        "system_prompt_sha256": system_prompt_sha256,
        "tools": [
            {
                "exposed_name": t["exposed_name"],
                "server": t["server_name"],
                "server_version": t["server_version"],
                "tool": t["tool_name"],
                "definition_sha256": t["definition_sha256"],
                "risk_class": t["risk_class"],
                "policy": t["policy"],
                "timeout_ms": t["timeout_ms"],
                "max_calls_per_turn": t["max_calls_per_turn"],
            }
            for t in sorted(tools, key=lambda t: t["exposed_name"])
        ],
        "servers": [
            {"name": name, "version": version, "tools_manifest_sha256": sha}
            for (name, version), sha in sorted(servers.items())
        ],
        "kbs": [
            {"kb_id": k.kb_id, "kb_name": k.kb_name, "version": k.kb_version, "content_sha256": k.content_sha256}
            for k in sorted(kbs, key=lambda k: k.kb_id)
        ],
    }


async def approve_agent_version(org_id: str, slug: str, version: int, *, approved_by: str) -> AgentVersionInfo:
    """Freeze a draft: check its bindings, compute the manifest, and approve it for good."""
    check_org(org_id)
    check_slug(slug)
    approved_by = check_actor(approved_by)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        owner = await agent_row(conn, org_id, slug)
        row = (
            (
                await conn.execute(
                    select(agent_version)
                    .where(agent_version.c.agent_id == owner["id"], agent_version.c.version == version)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise not_found(f"{slug}@{version} does not exist in org {org_id}")
        if row["approved_at"] is not None:
            raise conflict(f"{slug}@{version} is already approved and frozen: draft a new version to change it")
        tools = await tool_bindings(conn, row["id"])
        if not tools:
            raise conflict(
                f"cannot approve {slug}@{version}: it binds no tools, so the agent could not look anything up. "
                f"Draft it again with --tool …, or copy a working version: "
                f"`switchboard registry agent draft {slug} --from {slug}@<n> --org {org_id}`"
            )
        await _check_servers(conn, tools)
        check_bindings(tools)
        kbs = await _check_kbs(conn, org_id, row["id"])
        manifest = build_manifest(
            model_provider=row["model_provider"],
            model_id=row["model_id"],
            model_params=row["model_params"],
            system_prompt_sha256=row["system_prompt_sha256"],
            tools=tools,
            kbs=kbs,
        )
        manifest_sha = canonical_sha256(manifest)
        result = await conn.execute(
            update(agent_version)
            .where(agent_version.c.id == row["id"], agent_version.c.approved_at.is_(None))
            .values(
                manifest=manifest, manifest_sha256=manifest_sha, approved_by=approved_by, approved_at=datetime.now(UTC)
            )
        )
        if result.rowcount != 1:
            raise conflict(f"{slug}@{version} was approved concurrently")
    await record_event(
        AGENT_VERSION_APPROVED,
        actor=approved_by,
        org_id=org_id,
        agent_version_id=row["id"],
        manifest_sha256=manifest_sha,
        agent_slug=slug,
        agent_version=version,
    )
    async with engine.connect() as conn:
        return await _version_info(conn, org_id, slug, version)


async def _check_servers(conn: AsyncConnection, tools: list[dict[str, Any]]) -> None:
    """Every bound server version approved (locked against a concurrent revoke), every tool pinned."""
    ids = sorted({t["server_version_id"] for t in tools})
    if ids:  # lock the versions: a concurrent revoke waits for this approval, or this sees it
        await conn.execute(select(mcp_server_version.c.id).where(mcp_server_version.c.id.in_(ids)).with_for_update())
    statuses = await current_statuses(conn, ids)
    problems = sorted(
        {
            f"{t['server_name']}@{t['server_version']} is {statuses[t['server_version_id']].status}"
            for t in tools
            if statuses[t["server_version_id"]].status != APPROVED
        }
    )
    if problems:
        raise conflict(
            f"cannot approve: {'; '.join(problems)}. Every bound server version must be approved "
            "(review it, or draft against an approved version)"
        )
    missing = [t["exposed_name"] for t in tools if t["definition_sha256"] is None or t["risk_class"] is None]
    if missing:
        raise conflict(f"cannot approve: no pinned definition or risk class for {', '.join(missing)}")


async def _check_kbs(conn: AsyncConnection, org_id: str, version_id: str) -> list[KbBinding]:
    """Resolve KB pins against the KB tables (when present) and store what was resolved."""
    rows = await kb_rows(conn, version_id)
    if not rows or not await kb_tables_present(conn):
        return [KbBinding(r["kb_id"], r["kb_name"], r["kb_version"], r["content_sha256"]) for r in rows]
    resolved = [await resolve_kb_pin(conn, org_id, r["kb_id"], r["kb_version"]) for r in rows]
    await conn.execute(delete(agent_version_kb).where(agent_version_kb.c.agent_version_id == version_id))
    await conn.execute(
        insert(agent_version_kb),
        [
            {
                "id": str(uuid.uuid4()),
                "agent_version_id": version_id,
                "kb_id": k.kb_id,
                "kb_name": k.kb_name,
                "kb_version": k.kb_version,
                "content_sha256": k.content_sha256,
            }
            for k in resolved
        ],
    )
    return resolved


async def _version_info(conn: AsyncConnection, org_id: str, slug: str, version: int | None) -> AgentVersionInfo:
    owner = await agent_row(conn, org_id, slug)
    query = select(agent_version).where(agent_version.c.agent_id == owner["id"])
    if version is None:
        query = query.order_by(agent_version.c.version.desc()).limit(1)
    else:
        query = query.where(agent_version.c.version == version)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        what = f"{slug}@{version}" if version is not None else f"any version of {slug}"
        raise not_found(f"no {what} in org {org_id}: draft one with `switchboard registry agent draft {slug}`")
    tools = await tool_bindings(conn, row["id"])
    kbs = await kb_rows(conn, row["id"])
    return AgentVersionInfo(
        id=row["id"],
        org_id=org_id,
        slug=slug,
        version=row["version"],
        state="draft" if row["approved_at"] is None else "approved",
        model_provider=row["model_provider"],
        model_id=row["model_id"],
        model_params=row["model_params"],
        system_prompt_sha256=row["system_prompt_sha256"],
        drafted_by=row["drafted_by"],
        drafted_at=utc(row["drafted_at"]),
        approved_by=row["approved_by"],
        approved_at=utc(row["approved_at"]),
        manifest=row["manifest"],
        manifest_sha256=row["manifest_sha256"],
        tools=[
            ToolBinding(
                t["exposed_name"],
                t["server_name"],
                t["server_version"],
                t["tool_name"],
                t["policy"],
                t["timeout_ms"],
                t["max_calls_per_turn"],
            )
            for t in tools
        ],
        kbs=[KbBinding(k["kb_id"], k["kb_name"], k["kb_version"], k["content_sha256"]) for k in kbs],
    )


async def agent_version_info(org_id: str, slug: str, version: int | None = None) -> AgentVersionInfo:
    """One version of an agent (draft or approved); the newest when ``version`` is None."""
    engine = await get_engine()
    async with engine.connect() as conn:
        return await _version_info(conn, check_org(org_id), check_slug(slug), version)


async def list_agent_versions(org_id: str, slug: str) -> list[AgentVersionInfo]:
    engine = await get_engine()
    async with engine.connect() as conn:
        owner = await agent_row(conn, check_org(org_id), check_slug(slug))
        numbers = (
            await conn.execute(
                select(agent_version.c.version)
                .where(agent_version.c.agent_id == owner["id"])
                .order_by(agent_version.c.version.desc())
            )
        ).scalars()
        return [await _version_info(conn, org_id, slug, n) for n in list(numbers)]
