"""Statements: versioned definitions, schema-validated values with history, scope rules."""

from __future__ import annotations

import pytest
from fastmcp import Client
from sqlalchemy import func, select

from tests.servers.memory.conftest import Caller, server_for

CONTACT = {
    "key": "preferred_contact_time",
    "description": "When the customer wants to be called",
    "data_type": {
        "type": "object",
        "properties": {
            "from": {"type": "integer", "minimum": 0, "maximum": 23},
            "to": {"type": "integer", "minimum": 0, "maximum": 23},
        },
        "required": ["from", "to"],
        "additionalProperties": False,
    },
    "data_source": "conversation",
    "update_frequency": "on_change",
    "scope": "USER",
}


@pytest.fixture
async def clients(database_url: str):
    async with (
        Client(server_for(customer=None)) as admin,
        Client(server_for(customer="C1")) as c1,
        Client(server_for(customer="C2")) as c2,
    ):
        yield Caller(admin), Caller(c1), Caller(c2)


async def _value_rows() -> int:
    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import statement_value

    engine = await memory_engine()
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(statement_value))).scalar_one())


async def test_define_is_versioned_and_idempotent(clients) -> None:
    admin, _, _ = clients
    first = await admin("define_statement", CONTACT)
    assert first["version"] == 1 and first["changed"]
    same = await admin("define_statement", CONTACT)
    assert same["version"] == 1 and not same["changed"]
    changed = await admin("define_statement", {**CONTACT, "description": "Preferred call window (hours, KST)"})
    assert changed["version"] == 2 and changed["changed"]


async def test_values_are_validated_scoped_to_the_customer_and_keep_history(clients) -> None:
    admin, c1, c2 = clients
    await admin("define_statement", CONTACT)
    assert (await c1("set_statement", {"key": "preferred_contact_time", "value": {"from": 15, "to": 18}}))["ok"]
    for bad in ({"from": 25, "to": 18}, {"from": "3pm", "to": 18}, {"from": 1}, "오후", {"from": 1, "to": 2, "x": 0}):
        before = await _value_rows()
        body = await c1("set_statement", {"key": "preferred_contact_time", "value": bad})
        assert body["code"] == "INVALID_ARGUMENT", bad
        assert await _value_rows() == before  # nothing written
    await c1("set_statement", {"key": "preferred_contact_time", "value": {"from": 9, "to": 11}})
    mine = (await c1("get_statements", {"keys": ["preferred_contact_time"], "include_history": True}))["statements"][0]
    assert mine["value"] == {"from": 9, "to": 11}
    assert [h["value"]["from"] for h in mine["history"]] == [9, 15]
    theirs = (await c2("get_statements", {"keys": ["preferred_contact_time"]}))["statements"][0]
    assert theirs["value"] is None  # C2 never sees C1's value


async def test_old_values_keep_their_definition_version(clients) -> None:
    admin, c1, _ = clients
    await admin("define_statement", {**CONTACT, "key": "tier", "data_type": {"type": "string"}})
    await c1("set_statement", {"key": "tier", "value": "gold"})
    await admin("define_statement", {**CONTACT, "key": "tier", "data_type": {"enum": ["bronze", "silver"]}})
    entry = (await c1("get_statements", {"keys": ["tier"]}))["statements"][0]
    assert entry["definition_version"] == 2
    assert entry["value"] == "gold" and entry["value_definition_version"] == 1
    assert entry["valid_under_current"] is False
    assert (await c1("set_statement", {"key": "tier", "value": "gold"}))["code"] == "INVALID_ARGUMENT"


async def test_scope_rules(clients) -> None:
    admin, c1, c2 = clients
    notice = {**CONTACT, "key": "holiday_notice", "data_type": {"type": "string"}, "scope": "ALL"}
    assert (await c1("define_statement", notice))["code"] == "FORBIDDEN"  # definitions are org configuration
    await admin("define_statement", notice)
    assert (await c1("set_statement", {"key": "holiday_notice", "value": "x"}))["code"] == "FORBIDDEN"
    assert (await admin("set_statement", {"key": "holiday_notice", "value": "설 연휴 휴무"}))["ok"]
    assert (await c2("get_statements", {"keys": ["holiday_notice"]}))["statements"][0]["value"] == "설 연휴 휴무"

    session = {**CONTACT, "key": "caller_verified", "data_type": {"type": "boolean"}, "scope": "SESSION"}
    await admin("define_statement", session)
    assert (await c1("set_statement", {"key": "caller_verified", "value": True}))["code"] == "INVALID_ARGUMENT"
    assert (await c1("set_statement", {"key": "caller_verified", "value": True, "session_id": "s-1"}))["ok"]
    assert (await c2("get_statements", {"keys": ["caller_verified"], "session_id": "s-1"}))["statements"][0][
        "value"
    ] is None
    assert (await admin("set_statement", {"key": "caller_verified", "value": True, "session_id": "s-1"}))[
        "code"
    ] == "FORBIDDEN"

    group = {**CONTACT, "key": "group_discount", "data_type": {"type": "number"}, "scope": "GROUP"}
    await admin("define_statement", group)
    assert (await admin("set_statement", {"key": "group_discount", "value": 0.1}))["code"] == "INVALID_ARGUMENT"
    assert (await admin("set_statement", {"key": "group_discount", "value": 0.1, "group_id": "vip"}))["ok"]
    got = (await c1("get_statements", {"keys": ["group_discount"], "group_id": "vip"}))["statements"][0]
    assert got["value"] == 0.1
    missing = (await c1("get_statements", {"keys": ["group_discount"]}))["statements"][0]
    assert missing["value"] is None and "group_id" in missing["unavailable"]
    assert (await c1("get_statements", {"keys": ["nope"]}))["statements"][0]["defined"] is False
    assert (await c1("set_statement", {"key": "nope", "value": 1}))["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "data_type",
    [
        {"type": "strin"},
        {"$ref": "https://example.com/schema.json"},
        {"properties": {"a": {"$ref": "file:///etc/passwd"}}},
        {"minimum": "zero"},
    ],
)
async def test_bad_schemas_are_refused(clients, data_type) -> None:
    admin, _, _ = clients
    body = await admin("define_statement", {**CONTACT, "key": "broken", "data_type": data_type})
    assert body["code"] == "INVALID_ARGUMENT"
    assert (await admin("get_statements", {"keys": ["broken"]}))["statements"][0]["defined"] is False
