"""The server side: one audit record per tool call, from any MCP client, fail closed."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from fastmcp import Client
from mcp_types import Implementation
from pydantic import BaseModel

from audit import close, flush, verify_chain
from audit.middleware import AuditHook
from audit.store import tail
from core.errors import not_found
from core.settings import reload_settings
from servers.kit import ServerLaunch, build_server
from servers.kit.hooks import default_hooks

pytestmark = pytest.mark.usefixtures("audit_db")
CLIENT = Implementation(name="pytest-client", version="9.9.0")


class Found(BaseModel):
    phone: str
    email: str
    note: str


def make_server(launch: ServerLaunch | None = None):
    launch = launch or ServerLaunch(org_id="acme", customer_ref="C-1")
    server = build_server("test", "1.2.3", instructions="t", launch=launch, hooks=[AuditHook("test")])
    ran = {"n": 0}

    @server.tool
    async def lookup(phone: str, note: str = "") -> Found:
        """Find a customer by phone."""
        ran["n"] += 1
        return Found(phone=phone, email="hong@example.com", note=note)

    @server.tool
    async def missing() -> Found:
        """Always not found."""
        raise not_found("no such order")

    return server, ran


def body(result) -> dict:
    assert result.is_error
    return json.loads(result.content[0].text)


async def test_one_redacted_record_per_call_with_the_call_fields():
    server, ran = make_server()
    async with Client(server, client_info=CLIENT) as client:
        ok = await client.call_tool_mcp("lookup", {"phone": "010-1234-5678", "note": "카드 4111-1111-1111-1111"})
        await client.call_tool_mcp("lookup", {"phone": 5})
        await client.call_tool_mcp("missing", {})
        await client.call_tool_mcp("nope", {})
    assert not ok.is_error and ran["n"] == 1
    records = await tail("acme")
    assert len(records) == 4
    first = records[0]
    assert first.source == "server:test" and first.server_name == "test" and first.server_version == "1.2.3"
    assert first.event_type == "tool_call" and first.tool_name == "lookup"
    assert (first.client_name, first.client_version, first.actor) == ("pytest-client", "9.9.0", "client:pytest-client")
    assert first.customer_ref == "C-1" and first.trace_id and first.latency_ms > 0
    assert first.arguments == {"note": "카드 ****-****-****-1111", "phone": "010-****-5678"}
    assert first.result == {"email": "h***@example.com", "note": "카드 ****-****-****-1111", "phone": "010-****-5678"}
    assert first.is_error is False and first.error_code is None
    assert [(r.tool_name, r.is_error, r.error_code) for r in records[1:]] == [
        ("lookup", True, "INVALID_ARGUMENT"),
        ("missing", True, "NOT_FOUND"),
        ("nope", True, "NOT_FOUND"),
    ]
    assert records[1].arguments == {"phone": 5}
    assert (await verify_chain("acme")).ok


async def test_trusted_meta_ids_are_recorded():
    server, _ = make_server(ServerLaunch(trust_meta=True))
    meta = {
        "switchboard/org_id": "beta",
        "switchboard/session_id": "sess-1",
        "switchboard/trace_id": "trace-xyz",
        "switchboard/agent_version_id": "av-3",
        "switchboard/manifest_sha256": "d" * 64,
    }
    async with Client(server) as client:
        await client.call_tool_mcp("lookup", {"phone": "02-123-4567"}, meta=meta)
        await client.call_tool_mcp("lookup", {"phone": "x"}, meta={**meta, "switchboard/manifest_sha256": "bogus"})
    first, second = await tail("beta")
    assert (first.session_id, first.trace_id, first.agent_version_id) == ("sess-1", "trace-xyz", "av-3")
    assert first.manifest_sha256 == "d" * 64
    assert second.manifest_sha256 is None and second.details == {"manifest_sha256_claimed": "bogus"}


async def test_unwritable_log_refuses_the_call_before_the_tool_runs(audit_db, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    broken = (
        f"sqlite+aiosqlite:///{blocker}/switchboard.db"
        if audit_db.startswith("sqlite")
        else "postgresql+asyncpg://sb@127.0.0.1:1/nowhere"
    )
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", broken)
    reload_settings()
    try:
        server, ran = make_server()
        async with Client(server) as client:
            result = await client.call_tool_mcp("lookup", {"phone": "010-1234-5678"})
        assert body(result)["code"] == "UNAVAILABLE"
        assert "010-1234-5678" not in result.content[0].text
        assert ran["n"] == 0
    finally:
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", audit_db)
        reload_settings()
    assert await tail("acme") == []


@pytest.fixture
async def short_lock_timeout(monkeypatch):
    """Appends give up after 300 ms waiting for the chain lock (appenders read it when they start)."""
    monkeypatch.setenv("SWITCHBOARD_AUDIT_LOCK_TIMEOUT_MS", "300")
    await close()


@pytest.mark.usefixtures("short_lock_timeout")
async def test_a_locked_log_keeps_the_record_in_the_journal_and_refuses_calls_until_it_is_chained(audit_db):
    if not audit_db.startswith("sqlite"):
        pytest.skip("SQLite only: on PostgreSQL a call waits for its commit (the next test)")
    server, ran = make_server()
    async with Client(server) as client:
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1111-2222"})).is_error
        async with _chain_locked(audit_db):
            # answered: its record is durable in the journal before the answer
            assert not (await client.call_tool_mcp("lookup", {"phone": "010-1111-3333"})).is_error
            await flush()  # chaining it waits 300 ms for the lock, then gives up
            refused = await client.call_tool_mcp("lookup", {"phone": "010-1111-4444"})
            assert body(refused)["code"] == "UNAVAILABLE"  # fail closed until the journal is chained
            assert ran["n"] == 2  # refused before the tool ran
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1111-5555"})).is_error
    await flush()
    records = await tail("acme")
    assert [r.seq for r in records] == [1, 2, 3]
    assert [len(r.args_hmac or "") > 0 for r in records] == [True, True, True]
    assert (await verify_chain("acme")).ok


@pytest.mark.usefixtures("short_lock_timeout")
async def test_a_failed_commit_after_the_call_gives_unavailable_and_recovers(audit_db):
    if audit_db.startswith("sqlite"):
        pytest.skip("PostgreSQL has no journal: a call waits for its commit")
    server, ran = make_server()
    async with Client(server) as client:
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1111-2222"})).is_error
        async with _chain_locked(audit_db):
            result = await client.call_tool_mcp("lookup", {"phone": "010-1111-3333"})
        assert body(result)["code"] == "UNAVAILABLE"
        assert ran["n"] == 2  # the tool ran; its result was withheld because it was not recorded
        assert not (await client.call_tool_mcp("lookup", {"phone": "010-1111-4444"})).is_error
    records = await tail("acme")
    assert [r.seq for r in records] == [1, 2]
    assert (await verify_chain("acme")).ok


class _chain_locked:
    """Hold the audit chain lock from another connection (a stuck writer elsewhere)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = None

    async def __aenter__(self) -> None:
        if self.url.startswith("sqlite"):
            from sqlalchemy.engine import make_url

            self.conn = sqlite3.connect(make_url(self.url).database, isolation_level=None, check_same_thread=False)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import asyncpg

            self.conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg", "postgresql"))
            await self.conn.execute("BEGIN")
            await self.conn.execute("SELECT * FROM audit_chain_head WHERE org_id = 'acme' FOR UPDATE")

    async def __aexit__(self, *exc: object) -> None:
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.execute("ROLLBACK")
            self.conn.close()
        else:
            await self.conn.execute("ROLLBACK")
            await self.conn.close()


async def test_concurrent_calls_each_leave_one_record():
    server, ran = make_server()
    async with Client(server) as client:
        results = await asyncio.gather(
            *(client.call_tool_mcp("lookup", {"phone": f"010-5555-{i:04d}"}) for i in range(30))
        )
    assert not any(r.is_error for r in results) and ran["n"] == 30
    assert len(await tail("acme", limit=100)) == 30
    assert (await verify_chain("acme")).ok


async def test_personal_data_in_a_tool_name_is_masked_too():
    server, _ = make_server()
    async with Client(server) as client:
        result = await client.call_tool_mcp("010-1234-5678", {"q": "hong@example.com"})
    assert body(result)["code"] == "NOT_FOUND"
    (record,) = await tail("acme")
    assert record.tool_name == "010-****-5678" and record.arguments == {"q": "h***@example.com"}
    assert "010-1234-5678" not in json.dumps(record.to_dict(), ensure_ascii=False)


def test_production_servers_audit_by_default():
    from servers.kit.scopes import ScopeHook

    hooks = default_hooks("orders")  # OAuth scopes first (they hand the audit hook its subject), then audit
    assert [type(h) for h in hooks] == [ScopeHook, AuditHook] and hooks[1].source == "server:orders"
