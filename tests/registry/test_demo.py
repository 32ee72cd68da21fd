"""The demo setup publishes the real Switchboard servers and freezes cs-agent, idempotently."""

from __future__ import annotations

from registry import load_agent_version
from registry.demo import demo_policy, demo_risk_class, importable_servers, publish_and_approve_demo
from registry.queries import show_version


def test_demo_review_choices():
    assert demo_risk_class("get_order") == "read"
    assert demo_risk_class("search") == "read"
    assert demo_risk_class("memory_history") == "read"
    assert demo_risk_class("request_refund") == "irreversible"
    assert demo_risk_class("delete_all_memories") == "irreversible"
    assert demo_risk_class("add_memory") == "write"
    assert demo_risk_class("verify_caller") == "read"  # else an anonymous caller can never be verified
    assert demo_policy("get_order") == demo_policy("request_refund") == "confirm"
    assert demo_policy("find_orders") == "never"
    assert importable_servers(["orders", "no-such-server"]) == ["orders"]


async def test_demo_publishes_approves_and_is_idempotent(db):
    first = await publish_and_approve_demo("acme", ["orders", "no-such-server"])
    assert first.state == "approved" and first.slug == "cs-agent" and first.version == 1
    policies = {t.exposed_name: t.policy for t in first.tools}
    assert policies["orders__get_order"] == "confirm"
    assert policies["orders__request_refund"] == "confirm"
    orders = await show_version(f"orders@{first.tools[0].server_version}")
    assert orders.status == "approved" and orders.history[-1].changed_by == "demo"
    risk = {t.name: t.risk_class for t in orders.tools}
    assert risk["request_refund"] == "irreversible" and risk["verify_caller"] == "read"
    launch = orders.launch
    assert launch["command"].endswith("/switchboard") and launch["args"] == ["serve", "orders", "--trust-meta"]

    again = await publish_and_approve_demo("acme", ["orders"])
    assert (again.id, again.manifest_sha256) == (first.id, first.manifest_sha256)
    pinned = await load_agent_version("acme", "cs-agent")
    assert pinned.version == 1 and pinned.tool("orders__get_order").policy == "confirm"
