"""Issue 18, part 4 and start-up: customer tokens, tool subsets, data notes, warm-up, read-only CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from servers.kit.identity import ServerLaunch, TokenIdentity, resolve_context

SB = str(Path(sys.executable).with_name("switchboard"))
HOSTILE_REFS = ["900101-1234567", "C-1001 OR 1=1", "", "a" * 129, "고객\u202e1001"]


async def test_customer_tokens_fix_the_customer_and_refuse_sloppy_input(database_url):
    from servers.kit.tokens import create_token, list_tokens, verify_token

    plaintext, info = await create_token("demo", customer_ref="C-1001", label="CRM 010-1234-5678")
    assert info.customer_ref == "C-1001"
    identity = await verify_token(plaintext)
    assert identity == TokenIdentity(info.id, "demo", False, "C-1001")
    assert [t.customer_ref for t in await list_tokens("demo")] == ["C-1001"]
    assert "1234-5678" not in info.label and "CRM" in info.label  # the note is stored masked
    ctx = resolve_context(ServerLaunch(), identity, None)
    assert (ctx.org_id, ctx.customer_ref) == ("demo", "C-1001")
    # untrusted: another customer named in _meta is ignored, never honoured
    other = resolve_context(ServerLaunch(), identity, {"switchboard/customer_ref": "C-1002"})
    assert other.customer_ref == "C-1001"
    with pytest.raises(SwitchboardError, match="--customer needs --org"):
        await create_token(None, customer_ref="C-1001", trusted=True)
    with pytest.raises(SwitchboardError, match="cannot be --trusted"):
        await create_token("demo", customer_ref="C-1001", trusted=True)
    for bad in HOSTILE_REFS:
        with pytest.raises(SwitchboardError) as err:
            await create_token("demo", customer_ref=bad)
        assert err.value.code.value == "INVALID_ARGUMENT"
    assert len(await list_tokens("demo")) == 1, "a refused token was stored"


async def test_tool_subsets_hide_tools_and_refuse_typos(database_url):
    from fastmcp import Client

    from servers.catalog import build
    from servers.kit.serve import expose_subset

    def orders():
        return build("orders", launch=ServerLaunch(org_id="demo"), hooks=[])

    with pytest.raises(SwitchboardError, match="has no tool get_ordr"):
        await _in_thread(expose_subset, orders(), "orders", ["get_order", "get_ordr"], False)
    with pytest.raises(SwitchboardError, match="no tool of orders is left"):
        await _in_thread(expose_subset, orders(), "orders", ["request_refund"], True)
    server = orders()
    kept = await _in_thread(expose_subset, server, "orders", None, True)
    assert "request_refund" not in kept and "get_order" in kept
    async with Client(server) as client:
        assert sorted(t.name for t in await client.list_tools()) == kept
        hidden = await client.call_tool_mcp(
            "request_refund", {"order_id": "8841", "reason": "변심", "idempotency_key": "k-12345678"}
        )
        assert hidden.is_error and json.loads(hidden.content[0].text)["code"] == "NOT_FOUND"
    server = orders()
    assert await _in_thread(expose_subset, server, "orders", ["get_order", "get_refund_status"], False) == [
        "get_order",
        "get_refund_status",
    ]


async def _in_thread(func, *args):
    import asyncio

    return await asyncio.to_thread(func, *args)  # expose_subset runs its own event loop (CLI start-up)


def test_data_note_names_the_home_and_reads_without_creating(tmp_path, monkeypatch):
    import sqlite3

    from core.settings import reload_settings
    from servers.kit.serve import data_note

    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    reload_settings()
    try:
        note = data_note("orders", "demo")
        assert note and str(tmp_path / "empty") in note and "make demo" in note
        assert not (tmp_path / "empty").exists(), "the check created the home"
        home = tmp_path / "some"
        home.mkdir()
        with sqlite3.connect(home / "switchboard.db") as conn:
            conn.execute("CREATE TABLE ord_order (org_id TEXT, order_id TEXT)")
            conn.execute("INSERT INTO ord_order VALUES ('acme', '1')")
        monkeypatch.setenv("SWITCHBOARD_HOME", str(home))
        reload_settings()
        assert data_note("orders", "acme") is None
        assert "org 'demo' has no orders" in data_note("orders", "demo")
        assert data_note("kb", "demo") is None  # not migrated yet: the first call says more
    finally:
        monkeypatch.undo()
        reload_settings()


def test_read_only_commands_are_recognised():
    from switchboard_cli import is_read_only

    assert is_read_only(["chat", "--customer", "C-1001"])
    assert is_read_only(["kb", "search", "create"])
    assert is_read_only(["registry", "agent", "show", "cs-agent@1"])
    assert is_read_only(["memory", "list", "--org", "demo"])
    assert is_read_only(["memory", "status"]) and is_read_only(["registry", "servers"])  # a walk: made a db
    assert not is_read_only(["kb", "create", "list"])
    assert not is_read_only(["kb", "list", "--help"])
    assert not is_read_only(["demo", "--reset"])
    assert not is_read_only(["serve", "kb"])
    assert not is_read_only([])


async def test_stdio_read_only_server_warns_about_missing_data_and_answers_warm(tmp_path):
    """A real `switchboard serve` over stdio: subset, the no-data warning, the warm resource."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update({"SWITCHBOARD_HOME": str(tmp_path / "nohome"), "ANONYMIZED_TELEMETRY": "False"})
    log = tmp_path / "stderr.log"
    transport = StdioTransport(SB, ["serve", "kb", "--org", "demo", "--read-only"], env=env, log_file=log)
    async with Client(transport) as client:
        tools = {t.name for t in await client.list_tools()}
        assert tools == {"search", "list_knowledge_bases", "get_chunk", "get_document"}
        warm = json.loads((await client.read_resource_mcp("switchboard://status/warm")).contents[0].text)
        assert warm["warm"] is True and warm["pending"] == []
    text = log.read_text(encoding="utf-8")
    assert "no Switchboard data in" in text and str(tmp_path / "nohome") in text


async def test_background_jobs_wait_for_the_handshake_and_never_raise(monkeypatch, caplog):
    import asyncio

    from servers.kit import warm

    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    async def broken() -> None:
        raise OSError("model file missing")

    monkeypatch.setattr(warm, "GRACE_S", 5.0)
    waiting = warm.after_handshake("job", job)
    failing = warm.after_handshake("broken", broken)
    await asyncio.sleep(0.3)
    assert ran == [] and not waiting.done(), "a job started before tools/list was answered"
    state = await warm.wait_warm(timeout=5)  # what the warm resource does: start now, wait
    assert state["warm"] is True and state["pending"] == [] and ran == ["job"]
    assert failing.done() and failing.result() is None
    assert any("broken failed: OSError" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(warm, "GRACE_S", 0.1)  # no client ever lists tools: the grace period starts it

    async def run_in_fresh_loop() -> list[str]:
        late: list[str] = []

        async def note() -> None:
            late.append("late")

        await warm.after_handshake("late", note)
        return late

    assert await asyncio.to_thread(asyncio.run, run_in_fresh_loop()) == ["late"]


def test_http_on_a_busy_port_is_one_error_and_never_claims_to_be_on(sb_env):
    """A walk: with 8791 taken, `serve memory --transport http --port 8791` printed "✓ switchboard
    memory on http://127.0.0.1:8791/mcp …; Ctrl-C stops", then uvicorn's "[Errno 98]", exit 3."""
    import socket
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, **sb_env, "COLUMNS": "200"}
        done = subprocess.run(
            [SB, "serve", "memory", "--transport", "http", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert "✓" not in done.stderr + done.stdout and "Errno" not in done.stderr, done.stderr
    assert f"port {port} is in use: pick another with --port, or --port 0 for a free one" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_http_says_it_is_on_once_its_port_accepts_connections(sb_env):
    import socket
    import subprocess

    env = {**os.environ, **sb_env, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [SB, "serve", "memory", "--transport", "http", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert line.startswith("✓ switchboard memory on http://127.0.0.1:"), line
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        assert port != 0
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # bound and listening already
            pass
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.mark.parametrize("path", ["mcp", "/../x y", "/mcp?x=1", "/a//b", "/a/./b", "/mcp#f", ""])
def test_an_http_path_that_is_no_url_path_is_refused_before_listening(path):
    """A walk: `--path mcp` ended in a traceback (starlette's "AssertionError: Routed paths must
    start with '/'"); `--path '/../x y'` started and printed the URL http://127.0.0.1:P/../x y."""
    from servers.kit.serve import serve

    with pytest.raises(SwitchboardError) as err:
        serve("orders", transport="http", port=0, path=path, on_listen=lambda url: pytest.fail(url))
    assert err.value.code.value == "INVALID_ARGUMENT"
    assert "--path" in err.value.message and "/mcp" in err.value.message, err.value.message


def test_the_cli_says_so_in_one_line(sb_env):
    import subprocess

    env = {**os.environ, **sb_env, "COLUMNS": "200"}
    done = subprocess.run(
        [SB, "serve", "orders", "--transport", "http", "--port", "0", "--path", "mcp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error [INVALID_ARGUMENT] --path"), done.stderr


@pytest.mark.parametrize("value", ["http://lb:9001", "lb:9001/mcp", "", "lb 9001"])
def test_an_allowed_host_that_is_no_host_header_value_is_refused(value):
    """`--allowed-host http://lb:9001` (the URL instead of the Host) started, then refused every
    request through the balancer with 421."""
    from servers.kit.serve import serve

    with pytest.raises(SwitchboardError) as err:
        serve("orders", transport="http", port=0, allowed_hosts=[value], on_listen=lambda url: pytest.fail(url))
    assert err.value.code.value == "INVALID_ARGUMENT"
    assert "--allowed-host" in err.value.message and "lb:9001" in err.value.message, err.value.message
