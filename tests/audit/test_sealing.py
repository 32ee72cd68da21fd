"""Sealed payloads: per-subject keys, fail closed without a key, [erased] after the key is destroyed."""

from __future__ import annotations

import os
import stat

import pytest
from fastmcp import Client

from audit import append, find, verify_all
from audit.keys import keys_dir
from audit.middleware import AuditHook
from audit.subjects import PROVIDER_ENV, destroy_subject_key
from core.errors import SwitchboardError
from tests.audit.helpers import event, sql
from tests.audit.key_providers import provider as memory_provider

SECRET = "계좌 110-123-456789 비밀메모SEALME"


async def test_payloads_are_sealed_per_subject_and_shredded(audit_db: str) -> None:
    a = await append(event(1, customer_ref="C-1", arguments={"note": SECRET}, error_message=f"실패 {SECRET}"))
    b = await append(event(2, customer_ref="C-2", arguments={"note": SECRET}))
    org = await append(event(3, arguments={"note": SECRET}))
    rows = await sql("SELECT args_redacted, error_message FROM audit_event")
    assert rows and all("SEALME" not in str(v) for row in rows for v in row)
    assert all(str(row[0]).startswith("enc:v1:") for row in rows)
    assert a.arguments["note"].endswith("비밀메모SEALME") and "110-123-456789" not in a.arguments["note"]
    assert a.message.startswith("실패")
    files = sorted(p.name for p in (keys_dir() / "audit-subjects" / "acme").iterdir())
    assert len(files) == 3 and "_org.key" in files and not any("C-1" in f for f in files)
    assert all(stat.S_IMODE(os.stat(keys_dir() / "audit-subjects" / "acme" / f).st_mode) == 0o600 for f in files)

    assert destroy_subject_key("acme", "C-1") is True and destroy_subject_key("acme", "C-1") is False
    stored = {r.seq: r for r in await find(org_id="acme", since="2000-01-01")}
    assert stored[a.seq].arguments == "[erased]" and stored[a.seq].message == "[erased]"
    assert stored[b.seq].arguments["note"].endswith("SEALME") and stored[org.seq].arguments["note"].endswith("SEALME")
    assert all(r.ok for r in await verify_all("acme"))
    # a new record of the erased customer gets a fresh key; the old ones stay shredded
    c = await append(event(4, customer_ref="C-1", arguments={"note": "new"}))
    assert c.arguments == {"note": "new"} and (await find(org_id="acme", customer_ref="C-1"))[0].arguments == "[erased]"


async def test_a_moved_ciphertext_does_not_open(audit_db: str) -> None:
    from audit.sealing import Opener

    a = await append(event(1, customer_ref="C-1", arguments={"note": "A"}))
    b = await append(event(2, customer_ref="C-1", arguments={"note": "B"}))
    swapped = {**b.to_dict(), "args_redacted": a.args_redacted}
    assert Opener().open_fields(swapped)["args_redacted"] == "[unreadable]"


async def test_value_search_uses_the_subjects_key(audit_db: str) -> None:
    await append(event(1, customer_ref="C-1", arguments={"phone": "010-2222-3333"}))
    await append(event(2, customer_ref="C-2", arguments={"phone": "010-2222-3333"}))
    assert len(await find(value="01022223333", org_id="acme")) == 2
    assert len(await find(value="010-2222-3333", org_id="acme", customer_ref="C-1")) == 1
    destroy_subject_key("acme", "C-1")
    assert [r.customer_ref for r in await find(value="010-2222-3333", org_id="acme")] == ["C-2"]


async def test_key_provider_hook_and_its_failure_fail_closed(audit_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROVIDER_ENV, "tests.audit.key_providers:provider")
    memory_provider.fail = False
    record = await append(event(1, customer_ref="C-9", arguments={"note": SECRET}))
    assert ("acme", "C-9") in memory_provider.keys and record.arguments["note"].endswith("SEALME")
    assert not (keys_dir() / "audit-subjects").exists()  # nothing in the file store

    memory_provider.fail = True
    try:
        with pytest.raises(SwitchboardError) as err:
            await append(event(2, customer_ref="C-9"))
        assert err.value.code.value == "UNAVAILABLE"
        # through a real MCP server: the tool is not called and nothing is recorded
        from servers.kit import ServerLaunch
        from servers.memory_server.app import build_server

        monkeypatch.setenv("SWITCHBOARD_MEMORY_VECTORS", "off")
        server = build_server(launch=ServerLaunch(org_id="acme", customer_ref="C-9"), hooks=[AuditHook("memory")])
        async with Client(server) as client:
            result = await client.call_tool_mcp("add_memory", {"text": "기억해 주세요 FAILCLOSED"})
        assert result.is_error and "UNAVAILABLE" in result.content[0].text, result.content
        assert await sql("SELECT count(*) FROM audit_event") == [(1,)]
        assert await sql("SELECT count(*) FROM memory_item") == [(0,)]
    finally:
        memory_provider.fail = False
        from servers.memory_server.service import reset_services

        await reset_services()
    monkeypatch.setenv(PROVIDER_ENV, "tests.audit.key_providers:broken")
    with pytest.raises(SwitchboardError, match="cannot be loaded"):
        await append(event(3))
    monkeypatch.setenv(PROVIDER_ENV, "no-colon")
    with pytest.raises(SwitchboardError, match="module:attribute"):
        await append(event(3))
