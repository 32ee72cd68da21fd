"""The order server as users run it: real processes, stdio and Streamable HTTP, outside judges.

- the Claude Desktop config block from docs/orders.md, spawned over stdio by an MCP client;
- the MCP Inspector CLI over stdio and over HTTP (with a bearer token from `switchboard tokens`),
  with ``--strict`` schema checks;
- the MCP conformance suite over HTTP, against the test-only server in conformance_server.py
  (the suite cannot send a token), with the fixture-only scenarios in conformance-baseline.yml.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from tests.servers.orders.support import DEMO, OTHER, OTHER_ORDER, ROOT, TOOLS, error_of, node22, npm_bin, ok, seed_shop
from tests.servers.orders.test_tools import _refundable_order

pytestmark = pytest.mark.timeout(300)
SWITCHBOARD = str(ROOT / ".venv" / "bin" / "switchboard")
HERE = Path(__file__).resolve().parent
MEANINGFUL_SCENARIOS = (
    "server-initialize",
    "logging-set-level",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
)


@pytest.fixture(scope="module")
def env(module_database_url: str) -> dict[str, str]:
    """The demo shop in this module's database, and the environment a spawned process needs."""

    async def _seed() -> None:
        from core.db import dispose_engines
        from servers.order_server.store import close_readers

        try:
            await seed_shop()
        finally:
            await dispose_engines()
            close_readers()

    asyncio.run(_seed())
    return {
        "SWITCHBOARD_HOME": os.environ["SWITCHBOARD_HOME"],
        "SWITCHBOARD_DATABASE_URL": module_database_url,
        "ANONYMIZED_TELEMETRY": "False",
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_ENABLE_RICH_LOGGING": "false",
        "FASTMCP_LOG_LEVEL": "ERROR",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Run an HTTP server process until the block ends; yields its MCP URL."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"server did not listen on {port}: {log.read_text()[-2000:]}") from None
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def inspector(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The MCP Inspector CLI; ``env`` goes to a stdio server as ``-e KEY=VALUE``."""
    pairs = [item for key, value in (env or {}).items() for item in ("-e", f"{key}={value}")]
    cmd = [npm_bin("mcp-inspector"), "--cli", "-q", "--format", "json", *pairs, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def documented_claude_config() -> dict[str, Any]:
    text = (ROOT / "docs" / "orders.md").read_text(encoding="utf-8")
    block = re.search(r"## Claude Desktop.*?```json\n(.*?)```", text, re.S)
    assert block, "docs/orders.md lost its Claude Desktop config block"
    return json.loads(block.group(1))["mcpServers"]["switchboard-orders"]


async def test_documented_claude_desktop_config_over_stdio(env: dict[str, str]) -> None:
    config = documented_claude_config()
    command = config["command"].replace("/ABSOLUTE/PATH/TO/switchboard", str(ROOT))
    assert command == SWITCHBOARD and config["args"] == ["serve", "orders", "--org", DEMO]
    transport = StdioTransport(command, config["args"], env={**config["env"], **env}, keep_alive=False)
    async with Client(transport, timeout=60) as client:
        assert client.server_info.name == "switchboard-orders"
        assert {t.name for t in await client.list_tools()} >= {"get_order", "request_refund"}
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": "8841"}))
        assert status["state"] == "processing" and "영업일" in status["summary_ko"]
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "+82 10 1234 5678"}))
        assert found["phone_masked"] == "+82-10-****-5678" and "8841" in {o["order_id"] for o in found["orders"]}
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": OTHER_ORDER}))["code"] == "NOT_FOUND"
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": 8841}))["code"] == "INVALID_ARGUMENT"
        # no host and no elicitation: nothing is refunded until the customer's yes reaches confirm_refund
        args = {"order_id": "8823", "reason": "주문 취소 원해요", "idempotency_key": "stdio-test-0001"}
        pending = ok(await client.call_tool_mcp("request_refund", args))
        assert pending["outcome"] == "confirmation_required" and pending["refund_id"] is None
        assert pending["confirmation"]["prompt_ko"].startswith("주문번호 8823")
        assert ok(await client.call_tool_mcp("get_refund_status", {"order_id": "8823"}))["state"] == "none"
        confirmation = {"confirmation_id": pending["confirmation"]["confirmation_id"]}
        first = ok(await client.call_tool_mcp("confirm_refund", confirmation))
        again = ok(await client.call_tool_mcp("request_refund", args))
        assert first["created"] is True and again["created"] is False and again["refund_id"] == first["refund_id"]
        assert error_of(await client.call_tool_mcp("confirm_refund", confirmation))["code"] == "CONFLICT"


async def test_a_direct_client_with_a_dialog_refunds_only_on_yes(env: dict[str, str]) -> None:
    """A Claude-Desktop-style stdio client that shows elicitation dialogs: "no" refunds nothing."""
    from fastmcp.client.elicitation import ElicitResult

    asked: list[str] = []

    async def customer(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return ElicitResult(action="decline")

    config = documented_claude_config()
    transport = StdioTransport(SWITCHBOARD, config["args"], env={**config["env"], **env}, keep_alive=False)
    async with Client(transport, timeout=60, elicitation_handler=customer) as client:
        order_id = await _refundable_order(client)
        args = {"order_id": order_id, "reason": "단순 변심", "idempotency_key": "stdio-test-0002"}
        result = ok(await client.call_tool_mcp("request_refund", args))
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": order_id}))
    assert result["outcome"] == "declined" and len(asked) == 1 and f"주문번호 {order_id}" in asked[0]
    assert status["state"] == "none"


def test_inspector_over_stdio(env: dict[str, str]) -> None:
    target = [SWITCHBOARD, "serve", "orders", "--org", DEMO]
    listed = inspector(*target, "--method", "tools/list", "--strict", env=env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    tools = {t["name"]: t for t in json.loads(listed.stdout)["result"]["tools"]}
    assert set(tools) == TOOLS
    assert tools["request_refund"]["annotations"]["readOnlyHint"] is False
    called = inspector(
        *target,
        "--method",
        "tools/call",
        "--tool-name",
        "get_shipping_status",
        "--tool-args-json",
        '{"order_id": "8841"}',
        env=env,
    )
    assert called.returncode == 0, called.stderr[-2000:]
    result = json.loads(called.stdout)["result"]
    assert result["structuredContent"]["tracking_number"] == "568231904417"


def _create_token(org: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [SWITCHBOARD, "tokens", "create", "--org", org, "--label", "test", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)["token"]


async def test_http_with_tokens_and_the_inspector(env: dict[str, str], tmp_path: Path) -> None:
    import httpx2

    demo_token = _create_token(DEMO, env)
    other_token = _create_token(OTHER, env)
    port = free_port()
    args = [SWITCHBOARD, "serve", "orders", "--transport", "http", "--port", str(port)]
    with serving(args, env, port, tmp_path / "http.log") as url:
        header = f"Authorization: Bearer {demo_token}"
        listed = await asyncio.to_thread(inspector, url, "--header", header, "--method", "tools/list", "--strict")
        assert listed.returncode == 0, listed.stderr[-2000:]
        assert len(json.loads(listed.stdout)["result"]["tools"]) == len(TOOLS)
        call = ["--method", "tools/call", "--tool-name", "find_orders", "--tool-args-json", '{"phone": "01012345678"}']
        called = await asyncio.to_thread(inspector, url, "--header", header, *call)
        assert called.returncode == 0, called.stderr[-2000:]
        assert json.loads(called.stdout)["result"]["structuredContent"]["phone_masked"] == "+82-10-****-5678"
        missing = ["--method", "tools/call", "--tool-name", "get_order", "--tool-args-json", '{"order_id": "9999"}']
        failed = await asyncio.to_thread(inspector, url, "--header", header, *missing)
        assert failed.returncode == 5, (failed.returncode, failed.stdout[-1000:], failed.stderr[-1000:])  # tool error

        async with httpx2.AsyncClient(timeout=30) as raw:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            headers = {"Accept": "application/json, text/event-stream"}
            assert (await raw.post(url, json=body, headers=headers)).status_code == 401
            bogus = headers | {"Authorization": "Bearer sbt_not-a-real-token"}
            refused = await raw.post(url, json=body, headers=bogus)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
            said = refused.json()  # a walk: no stable code, and "re-register" advice for an sbt_ token
            assert said["error"] == "invalid_token" and said["code"] == "FORBIDDEN", said
            assert "tokens create" in said["error_description"] and "re-register" not in said["error_description"]

        async with Client(url, auth=other_token, timeout=60) as other:
            assert error_of(await other.call_tool_mcp("get_order", {"order_id": "8841"}))["code"] == "NOT_FOUND"
            assert ok(await other.call_tool_mcp("get_order", {"order_id": OTHER_ORDER}))["order_id"] == OTHER_ORDER


def test_conformance_suite_over_http(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, str(HERE / "conformance_server.py"), str(port)]
    with serving(args, env, port, tmp_path / "conformance-server.log") as url:
        node_dir = str(Path(node22()).parent)
        done = subprocess.run(
            [
                npm_bin("conformance"),
                "server",
                "--url",
                url,
                "--suite",
                "all",
                "--expected-failures",
                str(HERE / "conformance-baseline.yml"),
                "-o",
                str(tmp_path / "results"),
            ],
            env={**os.environ, "PATH": f"{node_dir}:{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=240,
            cwd=ROOT,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for scenario in MEANINGFUL_SCENARIOS:
        assert re.search(rf"✓ {re.escape(scenario)}: \d+ passed, 0 failed", output), f"{scenario}:\n{output[-3000:]}"
