"""The database itself refuses to change published and approved rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, text, update
from sqlalchemy.exc import IntegrityError

from core.db import get_engine, is_sqlite
from registry import ToolSpec, approve_agent_version, create_agent, draft_agent_version
from registry.tables import (
    agent,
    agent_version,
    agent_version_kb,
    agent_version_tool,
    mcp_server,
    mcp_server_version,
    mcp_tool_definition,
    mcp_tool_risk,
    server_version_status,
)
from tests.registry.helpers import approve_clean


async def _refused(statement) -> None:
    engine = await get_engine()
    with pytest.raises(IntegrityError) as err:
        async with engine.begin() as conn:
            await conn.execute(statement)
    assert "immutable" in str(err.value)


async def _allowed(statement) -> int:
    engine = await get_engine()
    async with engine.begin() as conn:
        return (await conn.execute(statement)).rowcount


async def _agent_with_versions() -> tuple[str, str]:
    """An approved version 1 and a draft version 2 of cs-agent; returns their ids."""
    await create_agent("acme", "cs-agent", created_by="olga")
    kwargs = {"model": "offline:planner", "system_prompt": "p", "drafted_by": "olga"}
    spec = [ToolSpec.parse("orders@1.0.0:get_order")]
    first = await draft_agent_version("acme", "cs-agent", tools=spec, **kwargs)
    from registry.specs import KbSpec
    from tests.registry.helpers import insert_kb

    await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    await insert_kb("acme", "faq", "kb-1", 1)  # a KB pin must name a version that exists
    second = await draft_agent_version("acme", "cs-agent", tools=spec, kbs=[KbSpec.parse("faq@1")], **kwargs)
    return first.id, second.id


async def test_published_server_versions_and_their_pins_cannot_change(db):
    info = await approve_clean("orders", "1.0.0")
    sv = mcp_server_version.c
    await _refused(update(mcp_server_version).where(sv.id == info.id).values(tools_manifest_sha256="0" * 64))
    await _refused(update(mcp_server_version).where(sv.id == info.id).values(launch_spec={"transport": "stdio"}))
    await _refused(delete(mcp_server_version).where(sv.id == info.id))
    td = mcp_tool_definition.c
    await _refused(update(mcp_tool_definition).where(td.server_version_id == info.id).values(definition={"name": "x"}))
    await _refused(update(mcp_tool_definition).where(td.server_version_id == info.id).values(definition_sha256="0"))
    await _refused(update(mcp_tool_definition).where(td.server_version_id == info.id).values(lint_findings=[]))
    await _refused(delete(mcp_tool_definition).where(td.server_version_id == info.id))
    st = server_version_status.c
    await _refused(update(server_version_status).where(st.server_version_id == info.id).values(status="revoked"))
    await _refused(delete(server_version_status).where(st.server_version_id == info.id))
    rk = mcp_tool_risk.c
    await _refused(update(mcp_tool_risk).where(rk.server_version_id == info.id).values(risk_class="read"))
    await _refused(delete(mcp_tool_risk).where(rk.server_version_id == info.id))
    await _refused(update(mcp_server).where(mcp_server.c.name == "orders").values(name="orders2"))
    if not is_sqlite(db):  # PostgreSQL: TRUNCATE skips row triggers, so it has its own
        for table in ("mcp_server_version", "mcp_tool_definition", "server_version_status", "mcp_tool_risk"):
            await _refused(text(f"TRUNCATE {table} CASCADE"))
    # descriptive server fields may be edited; status history grows by appending only
    assert await _allowed(update(mcp_server).where(mcp_server.c.name == "orders").values(owner="team-a")) == 1


async def test_approved_agent_versions_and_bindings_cannot_change_but_drafts_can(db):
    await approve_clean("orders", "1.0.0")
    approved_id, draft_id = await _agent_with_versions()
    av = agent_version.c
    await _refused(update(agent_version).where(av.id == approved_id).values(system_prompt="jailbroken"))
    await _refused(update(agent_version).where(av.id == approved_id).values(approved_at=None))
    await _refused(delete(agent_version).where(av.id == approved_id))
    bt = agent_version_tool.c
    await _refused(update(agent_version_tool).where(bt.agent_version_id == approved_id).values(policy="never"))
    await _refused(delete(agent_version_tool).where(bt.agent_version_id == approved_id))
    row = {
        "id": "extra",
        "agent_version_id": approved_id,
        "server_version_id": (await _first_server_version_id()),
        "tool_name": "list_orders",
        "exposed_name": "orders__list_orders",
        "policy": "never",
        "timeout_ms": 1000,
        "max_calls_per_turn": 1,
    }
    await _refused(insert(agent_version_tool).values(**row))
    # moving a draft's binding onto the approved version is refused too
    await _refused(
        update(agent_version_tool).where(bt.agent_version_id == draft_id).values(agent_version_id=approved_id)
    )
    kb = agent_version_kb.c
    await _refused(insert(agent_version_kb).values(id="kbx", agent_version_id=approved_id, kb_id="faq", kb_version="9"))
    await _refused(update(agent).where(agent.c.slug == "cs-agent").values(slug="other"))
    if not is_sqlite(db):
        for table in ("agent_version", "agent_version_tool", "agent_version_kb"):
            await _refused(text(f"TRUNCATE {table} CASCADE"))

    assert await _allowed(update(agent_version).where(av.id == draft_id).values(system_prompt="v2 prompt")) == 1
    assert (
        await _allowed(update(agent_version_tool).where(bt.agent_version_id == draft_id).values(policy="approve")) == 1
    )
    assert await _allowed(delete(agent_version_kb).where(kb.agent_version_id == draft_id)) == 1
    assert await _allowed(delete(agent_version_tool).where(bt.agent_version_id == draft_id)) == 1


async def _first_server_version_id() -> str:
    engine = await get_engine()
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT id FROM mcp_server_version"))).scalar_one()
