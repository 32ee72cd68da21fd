"""The `switchboard memory` CLI and the server over stdio, as users run them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from typer.testing import CliRunner

from tests.servers.memory.conftest import Caller, server_for

ROOT = Path(__file__).resolve().parents[3]


def _populate() -> list[str]:
    async def go() -> list[str]:
        from servers.memory_server.service import reset_services

        try:
            async with Client(server_for(customer="C1")) as client:
                call = Caller(client)
                ids = []
                for text in ("전화 말고 문자로 연락 주세요", "환불 절차를 문의했음", "VIP 골드 등급 회원임"):
                    ids.append((await call("add_memory", {"text": text}))["results"][0]["id"])
                await call("update_memory", {"id": ids[1], "text": "환불 절차와 기간을 문의했음"})
                return ids
        finally:
            await reset_services()

    return asyncio.run(go())


def _cli(*args: str) -> tuple[int, str]:
    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), ["memory", *args])
    return result.exit_code, result.stdout  # notes (an unknown customer) go to stderr


def test_cli_list_search_show_export(database_url: str, tmp_path: Path) -> None:
    ids = _populate()
    code, out = _cli("list", "--org", "acme", "--customer", "C1", "--json", "--limit", "2")
    assert code == 0
    page = json.loads(out)
    assert len(page["items"]) == 2 and page["next_cursor"]
    code, out = _cli(
        "list", "--org", "acme", "--customer", "C1", "--json", "--cursor", page["next_cursor"], "--limit", "2"
    )
    assert len(json.loads(out)["items"]) == 1
    code, out = _cli("search", "문자 연락", "--org", "acme", "--customer", "C1", "--json")
    assert code == 0 and json.loads(out)["results"][0]["id"] == ids[0]
    code, out = _cli("search", "문자 연락", "--org", "acme", "--customer", "C2", "--json")
    assert json.loads(out)["results"] == []
    code, out = _cli("show", ids[1], "--org", "acme", "--customer", "C1", "--json")
    shown = json.loads(out)
    assert shown["memory"]["text"] == "환불 절차와 기간을 문의했음"
    assert [e["event"] for e in shown["history"]] == ["ADD", "UPDATE"]
    target = tmp_path / "export.json"
    code, out = _cli("export", "--org", "acme", "--customer", "C1", "--output", str(target), "--json")
    assert code == 0
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert len(exported["memories"]) == 3 and exported["customer_ref"] == "C1"
    assert exported["memories"][0]["history"]
    code, out = _cli("show", ids[1], "--org", "acme", "--customer", "C2", "--json")
    assert code == 2 and "NOT_FOUND" in out
    code, out = _cli("list", "--org", "acme", "--json")
    assert code == 2 and "--customer" in out
    code, out = _cli("erase", "--org", "acme", "--customer", "C1", "--json")
    assert code == 2  # --json without --yes never erases silently
    code, out = _cli("list", "--org", "acme", "--customer", "C1", "--json")
    assert len(json.loads(out)["items"]) == 3


async def test_stdio_server_takes_identity_from_launch_flags(sb_env: dict[str, str]) -> None:
    env = {**sb_env, "SWITCHBOARD_MEMORY_VECTORS": "off", "PATH": os.environ.get("PATH", "")}
    exe = str(ROOT / ".venv" / "bin" / "switchboard")
    transport = StdioTransport(exe, ["serve", "memory", "--org", "acme", "--customer", "C5"], env=env, cwd=str(ROOT))
    async with Client(transport) as client:
        assert client.server_info.name == "switchboard-memory"
        call = Caller(client)
        added = await call("add_memory", {"text": "저녁 7시 이후 통화를 선호함"})
        assert added["ok"], added
        spoof = {"switchboard/org_id": "acme", "switchboard/customer_ref": "C6"}
        hits = await call("search_memories", {"query": "통화 시간"}, meta=spoof)  # untrusted _meta is ignored
        assert [h["text"] for h in hits["results"]] == ["저녁 7시 이후 통화를 선호함"]
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    page = await get_service().list(Scope("acme", "C5"), None)  # the server wrote where the CLI looks
    assert [d.text for d in page.items] == ["저녁 7시 이후 통화를 선호함"]
