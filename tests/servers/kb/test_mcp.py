"""The kb MCP server: tenant isolation through every tool, pins in _meta, inactive KBs, hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastmcp import Client

from servers.kb_server import store
from servers.kb_server.app import PINS_META_KEY, build_server
from servers.kb_server.vectors import embed_all
from servers.kit import ServerLaunch

ACME = "# 환불 정책\n\n에이크미 환불은 카드 결제 기준 3영업일이 걸립니다. ACME-SECRET\n".encode()
GLOBEX = "# 환불 정책\n\n글로벡스 환불은 계좌이체 기준 7영업일이 걸립니다. GLOBEX-SECRET\n".encode()


async def _call(org: str, tool: str, args: dict[str, Any], meta: dict[str, Any] | None = None, trust: bool = False):
    server = build_server(launch=ServerLaunch(org_id=org, trust_meta=trust), hooks=[])
    async with Client(server) as client:
        result = await client.call_tool_mcp(tool, args, meta=meta)
    if result.is_error:  # error results carry {code, message} as JSON text only
        return True, json.loads(result.content[0].text)
    return False, result.structured_content


@pytest.fixture
async def two_tenants(database_url: str) -> dict[str, dict[str, Any]]:
    """Two orgs with the same KB name and the same document id, different text; vectors computed."""
    out = {}
    for org, body in (("acme", ACME), ("globex", GLOBEX)):
        kb = await store.create_kb(org, "정책")
        await store.upload(org, "정책", [store.UploadItem("refund.md", body)])
        out[org] = kb
    assert await embed_all() == 4  # each text: its whole vector, then its sentence vectors
    return out


async def test_tenants_never_see_each_other(two_tenants: dict[str, dict[str, Any]]) -> None:
    for org, other, secret, foreign in (
        ("acme", "globex", "ACME-SECRET", "GLOBEX-SECRET"),
        ("globex", "acme", "GLOBEX-SECRET", "ACME-SECRET"),
    ):
        err, found = await _call(org, "search", {"query": "환불 며칠 걸려요", "top_k": 10})
        assert not err and found["hits"], found
        assert all(secret in h["text"] and foreign not in h["text"] for h in found["hits"])
        assert {h["kb_id"] for h in found["hits"]} == {two_tenants[org]["id"]}
        assert any(h["similarity"] is not None for h in found["hits"])  # the dense side ran too
        err, found = await _call(org, "search", {"query": foreign.lower()})
        assert not err and all(foreign not in h["text"] for h in found["hits"])

        err, listed = await _call(org, "list_knowledge_bases", {})
        assert [k["kb_id"] for k in listed["knowledge_bases"]] == [two_tenants[org]["id"]]
        assert listed["knowledge_bases"][0]["dense_ready"] == 1.0

        err, doc = await _call(org, "get_document", {"doc_id": "refund"})
        assert not err and secret in doc["text"] and doc["kb_id"] == two_tenants[org]["id"]
        err, chunk = await _call(org, "get_chunk", {"chunk_id": doc["chunk_ids"][0]})
        assert not err and secret in chunk["text"] and chunk["versions"] == [1]

        # the other tenant's ids behave exactly like ids that do not exist
        other_hits = (await _call(other, "search", {"query": "환불"}))[1]["hits"]
        err, body = await _call(org, "get_chunk", {"chunk_id": other_hits[0]["chunk_id"]})
        assert err and body["code"] == "NOT_FOUND"
        err, body = await _call(org, "get_document", {"doc_id": "refund", "kb_id": two_tenants[other]["id"]})
        assert err and body["code"] == "NOT_FOUND"
        err, body = await _call(org, "search", {"query": "환불", "kb_ids": [two_tenants[other]["id"]]})
        assert err and body["code"] == "NOT_FOUND"
        pins = {PINS_META_KEY: {two_tenants[other]["id"]: 1}}
        err, body = await _call(org, "search", {"query": "환불"}, meta=pins)
        assert not err and body["hits"] == [] and body["searched"] == []


async def test_identity_in_meta_is_ignored_unless_trusted(two_tenants: dict[str, dict[str, Any]]) -> None:
    spoof = {"switchboard/org_id": "globex"}
    err, body = await _call("acme", "search", {"query": "환불"}, meta=spoof)
    assert not err and body["hits"] and all("ACME-SECRET" in h["text"] for h in body["hits"])
    err, body = await _call("acme", "search", {"query": "환불"}, meta=spoof, trust=True)
    assert err and body["code"] == "FORBIDDEN"  # a fixed org never accepts another one
    server = build_server(launch=ServerLaunch(trust_meta=False), hooks=[])
    async with Client(server) as client:
        result = await client.call_tool_mcp("search", {"query": "환불"}, meta=spoof)
    assert result.is_error and json.loads(result.content[0].text)["code"] == "FORBIDDEN"
    server = build_server(launch=ServerLaunch(trust_meta=True), hooks=[])
    async with Client(server) as client:
        result = await client.call_tool_mcp("search", {"query": "환불"}, meta=spoof)
    assert all("GLOBEX-SECRET" in h["text"] for h in result.structured_content["hits"])


async def test_pins_inactive_and_versions_through_mcp(database_url: str) -> None:
    kb = await store.create_kb("acme", "정책")
    await store.upload("acme", "정책", [store.UploadItem("refund.md", ACME)])
    await store.upload("acme", "정책", [store.UploadItem("refund.md", ACME.replace(b"3", b"5"))])
    err, now = await _call("acme", "search", {"query": "환불 영업일"})
    assert "5영업일" in now["hits"][0]["text"] and now["searched"][0]["version"] == 2
    pins = {PINS_META_KEY: {kb["id"]: 1}}
    err, old = await _call("acme", "search", {"query": "환불 영업일"}, meta=pins)
    assert "3영업일" in old["hits"][0]["text"] and old["hits"][0]["version"] == 1
    err, listed = await _call("acme", "list_knowledge_bases", {}, meta=pins)
    assert listed["knowledge_bases"][0]["version"] == 1 and listed["knowledge_bases"][0]["n_documents"] == 1
    err, doc = await _call("acme", "get_document", {"doc_id": "refund"}, meta=pins)
    assert "3영업일" in doc["text"] and doc["version"] == 1
    err, body = await _call("acme", "search", {"query": "환불"}, meta={PINS_META_KEY: {kb["id"]: "one"}})
    assert err and body["code"] == "INVALID_ARGUMENT"
    err, body = await _call("acme", "search", {"query": "환불"}, meta={PINS_META_KEY: {kb["id"]: 7}})
    assert err and body["code"] == "NOT_FOUND"

    await store.set_active("acme", "정책", False)
    err, body = await _call("acme", "search", {"query": "환불"})
    assert not err and body["hits"] == []
    err, body = await _call("acme", "list_knowledge_bases", {})
    assert body["knowledge_bases"] == []
    err, body = await _call("acme", "get_chunk", {"chunk_id": now["hits"][0]["chunk_id"]})
    assert err and body["code"] == "NOT_FOUND"
    err, body = await _call("acme", "get_document", {"doc_id": "refund"})
    assert err and body["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("args", "expect_error"),
    [
        ({"query": ""}, True),
        ({"query": "환" * 10_000}, True),
        ({"query": "\x00\x01\x1b"}, True),
        ({"query": "?!...;"}, False),
        ({"query": "환불", "top_k": 0}, True),
        ({"query": "환불", "top_k": "5"}, True),
        ({"query": "환불", "org_id": "globex"}, True),
        ({"query": "환불", "kb_ids": ["x"] * 21}, True),
        ({"query": 42}, True),
        ({"query": "환불\ud800"}, True),
    ],
)
async def test_hostile_arguments(database_url: str, args: dict[str, Any], expect_error: bool) -> None:
    await store.create_kb("acme", "정책")
    await store.upload("acme", "정책", [store.UploadItem("refund.md", ACME)])
    err, body = await _call("acme", "search", args)
    assert err is expect_error
    if err:
        assert body["code"] == "INVALID_ARGUMENT"
    else:
        assert body["hits"] == []


async def test_tools_are_read_only_with_output_schemas(database_url: str) -> None:
    server = build_server(launch=ServerLaunch(org_id="acme"), hooks=[])
    async with Client(server) as client:
        tools = {t.name: t for t in await client.list_tools()}
    assert set(tools) == {"search", "list_knowledge_bases", "get_chunk", "get_document"}
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True and tool.output_schema
        assert "org" not in str(tool.input_schema.get("properties", {}))
    hit = tools["search"].output_schema["properties"]["hits"]["items"]["properties"]
    assert {"kb_id", "kb_name", "version", "doc_id", "title", "chunk_id", "page", "section", "score", "text"} <= set(
        hit
    )
