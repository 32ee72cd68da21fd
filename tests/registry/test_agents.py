"""Agent versions: drafts, approval checks, frozen manifests, and the host API."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.canonical import canonical_sha256, sha256_hex
from core.db import get_engine
from core.errors import SwitchboardError
from registry import (
    ToolSpec,
    agent_version_info,
    approve_agent_version,
    change_status,
    create_agent,
    draft_agent_version,
    is_revoked,
    load_agent_version,
    load_agent_version_by_id,
    revoked_servers,
)
from registry.specs import KbSpec, parse_model, parse_model_params
from tests.registry.helpers import approve_clean, insert_kb, publish_clean

PROMPT = "당신은 고객센터 상담원입니다. 주문 조회 전 고객에게 확인하세요."


def tools(*specs: str) -> list[ToolSpec]:
    return [ToolSpec.parse(s) for s in specs]


async def draft(*specs: str, slug: str = "cs-agent", org: str = "acme", **kwargs):
    return await draft_agent_version(
        org, slug, model="offline:planner", system_prompt=PROMPT, tools=tools(*specs), drafted_by="olga", **kwargs
    )


async def test_draft_approve_and_load_the_pinned_version(db):
    server = await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    drafted = await draft("orders@1.0.0:get_order:confirm", "orders@1.0.0:cancel_order:approve:5000:max=1")
    assert drafted.state == "draft" and drafted.version == 1 and drafted.manifest is None

    approved = await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert approved.state == "approved" and approved.approved_by == "omar"
    assert approved.manifest_sha256 == canonical_sha256(approved.manifest)

    pinned = await load_agent_version("acme", "cs-agent")
    assert (pinned.id, pinned.version, pinned.manifest_sha256) == (approved.id, 1, approved.manifest_sha256)
    assert (pinned.model_provider, pinned.model_id) == ("offline", "planner")
    assert pinned.system_prompt == PROMPT and pinned.system_prompt_sha256 == sha256_hex(PROMPT)
    defs = {t.name: t for t in server.tools}
    by_exposed = {t.exposed_name: t for t in pinned.tools}
    assert set(by_exposed) == {"orders__get_order", "orders__cancel_order"}
    get_order = pinned.tool("orders__get_order")
    assert get_order.definition == defs["get_order"].definition
    assert get_order.definition_sha256 == defs["get_order"].definition_sha256
    assert (get_order.policy, get_order.timeout_ms, get_order.max_calls_per_turn) == ("confirm", 10_000, 3)
    assert get_order.risk_class == "read" and get_order.server_version_id == server.id
    cancel = pinned.tool("orders__cancel_order")
    assert (cancel.policy, cancel.timeout_ms, cancel.max_calls_per_turn, cancel.risk_class) == (
        "approve",
        5000,
        1,
        "irreversible",
    )
    assert pinned.tool("orders__list_orders") is None  # not bound: not allowed
    [srv] = pinned.servers
    assert (srv.name, srv.version, srv.status) == ("orders", "1.0.0", "approved")
    assert srv.launch["transport"] == "stdio" and srv.launch["args"][-1] == "1.0.0"
    assert (await load_agent_version_by_id(pinned.id)).manifest_sha256 == pinned.manifest_sha256

    manifest = pinned.manifest
    assert manifest["model"] == {"provider": "offline", "id": "planner", "params": {}}
    assert manifest["system_prompt_sha256"] == sha256_hex(PROMPT)
    assert [t["exposed_name"] for t in manifest["tools"]] == ["orders__cancel_order", "orders__get_order"]
    assert manifest["tools"][1]["definition_sha256"] == defs["get_order"].definition_sha256
    assert manifest["servers"] == [
        {"name": "orders", "version": "1.0.0", "tools_manifest_sha256": server.tools_manifest_sha256}
    ]


async def test_drafts_change_until_approved_then_a_new_version_is_drafted(db):
    await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    first = await draft("orders@1.0.0:get_order")
    second = await draft("orders@1.0.0:list_orders")
    assert second.version == first.version == 1 and second.id == first.id
    assert [t.tool_name for t in second.tools] == ["list_orders"]
    await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    with pytest.raises(SwitchboardError) as err:
        await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert err.value.code == "CONFLICT" and "frozen" in err.value.message
    third = await draft("orders@1.0.0:get_order:confirm")
    assert third.version == 2 and third.state == "draft"
    # the newest approved version is still 1 until 2 is approved; drafts are never loaded
    assert (await load_agent_version("acme", "cs-agent")).version == 1
    with pytest.raises(SwitchboardError) as err:
        await load_agent_version("acme", "cs-agent", 2)
    assert err.value.code == "NOT_FOUND"
    await approve_agent_version("acme", "cs-agent", 2, approved_by="omar")
    assert (await load_agent_version("acme", "cs-agent")).version == 2
    assert [t.tool_name for t in (await load_agent_version("acme", "cs-agent", 1)).tools] == ["list_orders"]


async def test_approval_refuses_unapproved_rejected_deprecated_and_revoked_servers(db):
    await create_agent("acme", "cs-agent", created_by="olga")
    await publish_clean("orders", "1.0.0")  # pending review
    await draft("orders@1.0.0:get_order")
    with pytest.raises(SwitchboardError) as err:
        await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert err.value.code == "CONFLICT" and "orders@1.0.0 is pending_review" in err.value.message
    assert (await agent_version_info("acme", "cs-agent", 1)).state == "draft"

    from registry import review_version

    await review_version("orders", "1.0.0", approve=True, reason="ok", reviewer="r", risks={"*": "read"})
    for status in ("deprecated", "revoked"):
        await change_status("orders", "1.0.0", status, reason=f"now {status}", changed_by="sec")
        with pytest.raises(SwitchboardError) as err:
            await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
        assert f"orders@1.0.0 is {status}" in err.value.message
    # and a new draft cannot bind a revoked version at all
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:get_order")
    assert "revoked" in err.value.message

    await publish_clean("rejected", "1.0.0")
    await review_version("rejected", "1.0.0", approve=False, reason="no", reviewer="r")
    with pytest.raises(SwitchboardError) as err:
        await draft("rejected@1.0.0:get_order")
    assert "rejected" in err.value.message


async def test_exposed_name_collisions_are_refused(db):
    await approve_clean("orders", "1.0.0")
    await approve_clean("orders", "1.1.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    for specs in (
        ("orders@1.0.0:get_order", "orders@1.1.0:get_order"),
        ("orders@1.0.0:get_order", "orders@1.0.0:get_order:confirm"),
    ):
        with pytest.raises(SwitchboardError) as err:
            await draft(*specs)
        assert err.value.code == "CONFLICT" and "orders__get_order" in err.value.message
    # approval runs the same check; the database refuses a colliding row as a last resort
    from registry.agents import check_exposed_names

    with pytest.raises(SwitchboardError) as err:
        check_exposed_names(["orders__get_order", "kb__search", "orders__get_order"])
    assert err.value.code == "CONFLICT"
    drafted = await draft("orders@1.0.0:get_order")
    engine = await get_engine()
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO agent_version_tool (id, agent_version_id, server_version_id, tool_name, exposed_name,"
                    " policy, timeout_ms, max_calls_per_turn) SELECT 'dup', agent_version_id, server_version_id,"
                    " tool_name, exposed_name, policy, timeout_ms, max_calls_per_turn FROM agent_version_tool"
                    " WHERE agent_version_id = :v"
                ),
                {"v": drafted.id},
            )


async def test_one_version_per_server(db):
    await approve_clean("orders", "1.0.0")
    await approve_clean("orders", "1.1.0")
    await approve_clean("shop", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:cancel_order", "orders@1.1.0:request_refund:confirm")
    assert err.value.code == "CONFLICT" and "one version per server" in err.value.message
    await draft("orders@1.1.0:get_order", "shop@1.0.0:get_order")  # same tool name, different servers
    info = await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert [t["exposed_name"] for t in info.manifest["tools"]] == ["orders__get_order", "shop__get_order"]
    assert [s["name"] for s in info.manifest["servers"]] == ["orders", "shop"]


async def test_host_api_reports_revocations(db):
    await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    await draft("orders@1.0.0:get_order")
    await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    pinned = await load_agent_version("acme", "cs-agent")
    assert await revoked_servers(pinned) == [] and not await is_revoked("orders", "1.0.0")
    await change_status("orders", "1.0.0", "revoked", reason="CVE-3", changed_by="sec")
    assert await is_revoked("orders", "1.0.0")
    assert await revoked_servers(pinned) == ["orders@1.0.0"]
    reloaded = await load_agent_version("acme", "cs-agent")
    assert reloaded.servers[0].status == "revoked"
    assert reloaded.manifest_sha256 == pinned.manifest_sha256  # the frozen version itself never changes


async def test_draft_input_errors(db):
    await approve_clean("orders", "1.0.0")
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:get_order")
    assert err.value.code == "NOT_FOUND" and "agent create" in err.value.message
    await create_agent("acme", "cs-agent", created_by="olga")
    with pytest.raises(SwitchboardError) as err:
        await create_agent("acme", "cs-agent", created_by="olga")
    assert err.value.code == "CONFLICT"
    await create_agent("beta", "cs-agent", created_by="bo")  # slugs are per org
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:nope")
    assert err.value.code == "NOT_FOUND" and "get_order" in err.value.message
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@9.9.9:get_order")
    assert err.value.code == "NOT_FOUND"
    with pytest.raises(SwitchboardError):
        await draft_agent_version(
            "acme", "cs-agent", model="offline:planner", system_prompt="  ", tools=[], drafted_by="o"
        )
    for bad in (
        "orders:get_order",
        "orders@latest:get_order",
        "orders@1.0.0:get_order:maybe",
        "orders@1.0.0:get_order:5",
        "orders@1.0.0:get_order:max=0",
        "orders@1.0.0",
    ):
        with pytest.raises(SwitchboardError) as err:
            ToolSpec.parse(bad)
        assert err.value.code == "INVALID_ARGUMENT", bad
    for bad in ("claude", "mystery:model", "openai:"):
        with pytest.raises(SwitchboardError):
            parse_model(bad)
    assert parse_model_params(["temperature=0.2", "style=short", "tools=true"]) == {
        "temperature": 0.2,
        "style": "short",
        "tools": True,
    }
    with pytest.raises(SwitchboardError):
        parse_model_params(["big=1e400"])


async def test_kb_pins_are_checked_against_the_kb_tables(db):
    from registry.kb import kb_tables_present

    await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    engine = await get_engine()
    async with engine.connect() as conn:
        assert await kb_tables_present(conn)  # the KB server's migrations are installed here
    with pytest.raises(SwitchboardError) as err:  # refused when drafting, not only at approval
        await draft("orders@1.0.0:get_order", kbs=[KbSpec.parse("faq@2")])
    assert err.value.code == "NOT_FOUND" and "faq" in err.value.message
    await insert_kb("acme", "faq", "kb-1", 2)
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:get_order", kbs=[KbSpec.parse("faq@3")])
    assert err.value.code == "NOT_FOUND" and "no version 3" in err.value.message
    await draft("orders@1.0.0:get_order", kbs=[KbSpec.parse("faq@2")])
    approved = await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert approved.manifest["kbs"] == [{"kb_id": "kb-1", "kb_name": "faq", "version": "2", "content_sha256": "2" * 64}]
    pinned = await load_agent_version("acme", "cs-agent")
    assert pinned.kb_pins == [("kb-1", "2")]
    # another org's KB of the same name is not visible
    await create_agent("beta", "cs-agent", created_by="bo")
    with pytest.raises(SwitchboardError) as err:
        await draft("orders@1.0.0:get_order", org="beta", kbs=[KbSpec.parse("faq@2")])
    assert err.value.code == "NOT_FOUND"


async def test_kb_pins_are_stored_unverified_when_there_is_no_kb_server(db):
    from sqlalchemy import MetaData, inspect

    from registry.kb import kb_tables_present

    def drop_kb_tables(sync_conn) -> None:
        names = [t for t in inspect(sync_conn).get_table_names() if t == "knowledge_base" or t.startswith("kb_")]
        reflected = MetaData()
        reflected.reflect(sync_conn, only=names)
        reflected.drop_all(sync_conn)  # in foreign-key order

    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.run_sync(drop_kb_tables)
    async with engine.connect() as conn:
        assert not await kb_tables_present(conn)
    await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    await draft("orders@1.0.0:get_order", kbs=[KbSpec.parse("faq@3")])
    approved = await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    assert approved.manifest["kbs"] == [{"kb_id": "faq", "kb_name": None, "version": "3", "content_sha256": None}]


async def test_agent_approval_is_audited_in_the_agents_org(db):
    from audit import find

    await approve_clean("orders", "1.0.0")
    await create_agent("acme", "cs-agent", created_by="olga")
    await draft("orders@1.0.0:get_order")
    info = await approve_agent_version("acme", "cs-agent", 1, approved_by="omar")
    [record] = await find(org_id="acme", event_type="agent_version_approved")
    assert record.actor == "omar" and record.agent_version_id == info.id
    assert record.manifest_sha256 == info.manifest_sha256


async def test_a_missing_agent_names_what_exists(db):
    """A walk: a typo'd agent or org was told to create it, with no word of what exists."""

    await create_agent("acme", "cs-agent", created_by="a")
    await create_agent("acme", "sales-bot", created_by="a")
    cases = {
        ("acme", "cs-agnet"): "did you mean cs-agent?",
        ("acme", "billing"): "its agents: cs-agent, sales-bot",
        ("acme-typo", "cs-agent"): "orgs with an agent 'cs-agent': acme (check --org)",
        ("fresh", "new-bot"): "create it with `switchboard registry agent create new-bot --org fresh`",
    }
    for (org, slug), said in cases.items():
        with pytest.raises(SwitchboardError) as err:
            await load_agent_version(org, slug)
        assert err.value.code.value == "NOT_FOUND" and said in err.value.message, (org, slug, err.value.message)


@pytest.mark.parametrize(
    "item",
    [
        "max_tokens=-5",
        "max_tokens=0",
        "max_tokens=2.5",
        "temperature=-1",
        "temperature=5",
        "temperature=hot",
        "top_p=1.5",
        "max_retries=-1",
        "max_retries=true",
    ],
)
def test_a_known_model_parameter_out_of_its_range_is_refused(item):
    """A walk: `agent draft … --param max_tokens=-5` was saved ({'max_tokens': -5}); a bad value
    would only fail at the provider, mid-conversation."""
    from registry.specs import parse_model_params

    with pytest.raises(SwitchboardError) as err:
        parse_model_params([item])
    assert err.value.code.value == "INVALID_ARGUMENT"
    key = item.split("=", 1)[0]
    assert f"--param {key}" in err.value.message and "e.g." in err.value.message, err.value.message


def test_known_model_parameters_in_range_and_unknown_ones_pass():
    from registry.specs import parse_model_params

    given = ["temperature=0.2", "top_p=1", "max_tokens=300", "max_retries=0", "seed=7"]
    assert parse_model_params(given) == {"temperature": 0.2, "top_p": 1, "max_tokens": 300, "max_retries": 0, "seed": 7}
