"""A walk of `switchboard serve orders --transport http` with raw HTTP: what an integrator gets
wrong and what an attacker tries, each answered with a stable code and what to do next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

SB = str(Path(sys.executable).with_name("switchboard"))
VERSION = "2026-07-28"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}}


@pytest.fixture(scope="module")
def served(module_database_url: str, tmp_path_factory: pytest.TempPathFactory):
    env = {
        **os.environ,
        "SWITCHBOARD_HOME": os.environ["SWITCHBOARD_HOME"],
        "SWITCHBOARD_DATABASE_URL": module_database_url,
        "FASTMCP_LOG_LEVEL": "ERROR",
        "COLUMNS": "200",
    }
    made = subprocess.run(
        [SB, "tokens", "create", "--org", "acme", "--json"], env=env, capture_output=True, text=True, check=True
    )
    token = json.loads(made.stdout)["token"]
    proc = subprocess.Popen(
        [SB, "serve", "orders", "--transport", "http", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    assert line.startswith("✓ switchboard orders on http://127.0.0.1:"), line
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    try:
        yield url, {**HEADERS, "Authorization": f"Bearer {token}"}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def stateless_call(url: str, headers: dict[str, str], tool: str, raw_arguments: str) -> httpx.Response:
    """One tools/call of protocol 2026-07-28 (no session), its arguments written as raw JSON text."""
    params = f'{{"name":{json.dumps(tool)},"arguments":{raw_arguments},"_meta":{json.dumps(ENVELOPE)}}}'
    body = f'{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}'
    call_headers = {**headers, "MCP-Protocol-Version": VERSION, "Mcp-Method": "tools/call", "Mcp-Name": tool}
    return httpx.post(url, content=body.encode(), headers=call_headers, timeout=30)


def tool_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    result = response.json()["result"]
    assert result["isError"] is True, result
    return json.loads(result["content"][0]["text"])


def test_a_lone_surrogate_in_arguments_is_invalid_argument_not_an_audit_failure(served):
    url, headers = served
    body = tool_error(stateless_call(url, headers, "get_order", '{"order_id":"\\ud800"}'))
    assert body["code"] == "INVALID_ARGUMENT", body  # was UNAVAILABLE: the audit log could not record this call
    assert "'order_id'" in body["message"] and "UTF-8" in body["message"], body
    fine = tool_error(stateless_call(url, headers, "get_order", '{"order_id":"9999"}'))
    assert fine["code"] == "NOT_FOUND", fine  # the server (and its audit log) still serve
