"""`switchboard customer erase`: a marker written through real MCP tool calls (audited by the real
middleware) and a real conversation is gone from every file under the data directory afterwards
(database, -wal, exports, keys, checkpoints, logs), while the audit chain still verifies.

On PostgreSQL the database files are not ours to scan: every row of the audit, host and memory
tables is checked instead (dead tuples last until VACUUM; see docs/audit.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from sqlalchemy import text

from audit import find, verify_all
from audit.middleware import AuditHook
from core.db import get_engine

MARKER = "지워질표식ZQX7ERASE"
CORE = b"ZQX7ERASE"
KEEP = "남을표식KEEP5MARK"
ORG, CUSTOMER, OTHER = "demo", "C-ERASE", "C-KEEP"
PHONE = "010-9876-5432"


def _needles() -> dict[str, bytes]:
    """The marker in forms a file could hold it: UTF-8, JSON-escaped, base64 at each alignment."""
    out = {"utf8": MARKER.encode(), "ascii": CORE, "json": json.dumps(MARKER).encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + CORE)[4 if shift else 0 :]
        out[f"base64+{shift}"] = encoded[: len(encoded) - 4]
    return out


def _scan_files(home: Path) -> list[str]:
    hits = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits.extend(f"{path.relative_to(home)}:{name}" for name, needle in _needles().items() if needle in data)
    return hits


async def _scan_rows() -> list[str]:
    """Every text value of every table (both backends)."""
    engine = await get_engine()
    hits = []
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = [r[0] for r in await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        else:
            names = [
                r[0] for r in await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
            ]
        for name in names:
            for row in await conn.execute(text(f'SELECT * FROM "{name}"')):
                for value in row:
                    if value is not None and CORE.decode() in str(value):
                        hits.append(name)
    return hits


def _memory_server(customer: str) -> Any:
    from servers.kit import ServerLaunch
    from servers.memory_server.app import build_server

    return build_server(launch=ServerLaunch(org_id=ORG, customer_ref=customer), hooks=[AuditHook("memory")])


async def _write_through_tools(customer: str, marker: str) -> None:
    async with Client(_memory_server(customer)) as client:
        added = await client.call_tool_mcp("add_memory", {"text": f"고객 메모 {marker} 연락처 {PHONE}"})
        assert not added.is_error, added.content
        memory_id = added.structured_content["results"][0]["id"]
        await client.call_tool_mcp("update_memory", {"id": memory_id, "text": f"{marker} 저녁에 연락 선호"})
        for call in (("search_memories", {"query": marker}), ("list_memories", {})):
            assert not (await client.call_tool_mcp(*call)).is_error


async def _write_through_conversation(customer: str) -> None:
    from host.engine import Conversation, EngineSettings
    from host.providers.offline import OfflinePlanner
    from host.store import RecordStore
    from tests.host.conftest import PROFILE, Recorder, make_layer

    conv = await Conversation.start(
        profile=PROFILE,
        layer=make_layer(),
        provider=OfflinePlanner(),
        store=RecordStore(),
        customer_ref=customer,
        settings=EngineSettings(),
        emit=Recorder(),
    )
    await conv.user_message(f"음 그러니까 {MARKER} 주문번호는 8841 이고요 전화는 {PHONE}", asr_confidence=0.6)
    await conv.user_message(f"상담원 연결해 주세요 {MARKER}")
    await conv.end(outcome="escalated")


async def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real console script in a child process."""
    exe = str(Path(sys.executable).parent / "switchboard")
    full = {**os.environ, **env}
    return await asyncio.to_thread(
        subprocess.run, [exe, *args], env=full, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def vectors_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MEMORY_VECTORS", "off")


async def test_customer_erase_reaches_every_store(audit_db: str, sb_env: dict[str, str], vectors_off: None) -> None:
    home = Path(os.environ["SWITCHBOARD_HOME"])
    await _write_through_tools(CUSTOMER, MARKER)
    await _write_through_conversation(CUSTOMER)
    await _write_through_tools(OTHER, KEEP)  # another customer's data must survive
    found = await find(text=MARKER, org_id=ORG)
    assert {r.customer_ref for r in found} == {CUSTOMER} and len(found) >= 4
    assert await find(value=PHONE, org_id=ORG, customer_ref=CUSTOMER)
    assert "turns" in await _scan_rows()  # the conversation holds the marker before the erase
    from audit import close

    await close()
    before = await _cli(sb_env, "audit", "export", "--org", ORG, "-o", str(home / "export-before-erase.jsonl"))
    assert before.returncode == 0, before.stderr  # sealed: erasing the key shreds this copy too

    result = await _cli(sb_env, "customer", "erase", "--org", ORG, "--customer", CUSTOMER, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["memories"]["memories"] == 1 and report["conversations"]["sessions"] == 1
    assert report["conversations"]["turns"] >= 2 and report["conversations"]["review_items"] >= 1
    assert report["audit"]["key_destroyed"] is True and report["audit"]["records_shredded"] >= 4

    # the audit: verified intact, payloads read [erased], the value search finds nothing, the other customer stays
    reports = await verify_all(ORG)
    assert all(r.ok for r in reports), [r.to_dict() for r in reports]
    assert await find(text=MARKER, org_id=ORG) == []
    kept = await find(text=KEEP, org_id=ORG)
    assert len(kept) >= 4 and {r.customer_ref for r in kept} == {OTHER}
    assert not await find(value=PHONE, org_id=ORG, customer_ref=CUSTOMER)
    erased = await find(customer_ref=CUSTOMER, org_id=ORG, limit=1000)
    assert erased and all(r.arguments == "[erased]" for r in erased if r.args_redacted)
    tombstone = await find(event_type="subject_erased", org_id=ORG)
    assert tombstone[0].details["customer_ref"] == CUSTOMER

    # rerunning is safe and reports the key as already gone
    again = await _cli(sb_env, "customer", "erase", "--org", ORG, "--customer", CUSTOMER, "--yes", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["audit"]["key_destroyed"] is False

    shown = await _cli({**sb_env, "COLUMNS": "200"}, "audit", "tail", "--org", ORG, "-n", "100")
    assert shown.returncode == 0 and "[erased]" in shown.stdout and "KEEP5MARK" in shown.stdout, shown.stdout

    export = home / "export.jsonl"
    out = await _cli(sb_env, "audit", "export", "--org", ORG, "--decrypt", "-o", str(export))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in export.read_text().splitlines()[1:]]
    mine = [x for x in lines if x.get("customer_ref") == CUSTOMER and x.get("args_redacted")]
    assert mine and all(x["opened"]["args_redacted"] == "[erased]" for x in mine)
    await close()
    assert await _scan_rows() == []
    if audit_db.startswith("sqlite"):
        from core.db import dispose_engines

        await dispose_engines()
        assert _scan_files(home) == []


async def test_retention_hold_keeps_young_conversations_and_says_until_when(audit_db: str) -> None:
    from datetime import timedelta

    from host.erase import erase_customer_records
    from host.store import now

    await _write_through_conversation(CUSTOMER)
    held = await erase_customer_records(ORG, CUSTOMER, retention_days=1825)
    assert held.sessions == 0 and held.held_sessions == 1
    assert held.held_until == (now() + timedelta(days=1825)).date().isoformat()
    assert "turns" in await _scan_rows()
    later = await erase_customer_records(ORG, CUSTOMER, retention_days=1825, at=now() + timedelta(days=1826))
    assert later.sessions == 1 and later.held_sessions == 0 and later.turns >= 2
    assert await _scan_rows() == []
