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


def rpc_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON-RPC error of a refused request: what the MCP client shows instead of "Server
    returned an error response" (it reads the body only when it is a JSON-RPC error)."""
    from mcp.types import JSONRPCError, jsonrpc_message_adapter

    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    parsed = jsonrpc_message_adapter.validate_json(response.content, by_name=False)
    assert isinstance(parsed, JSONRPCError), response.text
    error = parsed.error.model_dump()
    assert len(error["message"]) < 300, error  # clients cut long messages
    return error


LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def test_a_browser_origin_is_refused_with_why_and_what_to_do(served):
    """DNS rebinding from a web page: the Host is ours, the Origin is not. It was a bare
    `403 Forbidden Origin` (text/plain; the MCP client said "Server returned an error response")."""
    url, headers = served
    error = rpc_error(httpx.post(url, json=LIST, headers={**headers, "Origin": "http://evil.example"}), 403)
    assert "'http://evil.example'" in error["message"] and "DNS-rebinding" in error["message"], error
    assert "server-side" in error["message"], error
    assert error["data"]["code"] == "FORBIDDEN", error
    same = httpx.post(url, json=LIST, headers={**headers, "Origin": url.rsplit("/", 1)[0], "Host": url.split("/")[2]})
    assert same.status_code != 403, same.text  # the server's own origin passes


@pytest.mark.parametrize("chunked", [False, True])
def test_a_50_mb_body_is_refused_naming_the_limit(served, chunked):
    """50 MB of tool arguments: a bare `413 Request body too large` (text/plain) before."""
    url, headers = served
    body = json.dumps({**LIST, "params": {"pad": "8" * 50_000_000}}).encode()
    content: Any = iter([body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)]) if chunked else body
    error = rpc_error(httpx.post(url, content=content, headers=headers, timeout=60), 413)
    assert "4 MiB" in error["message"] and "smaller" in error["message"], error
    assert error["data"]["code"] == "INVALID_ARGUMENT", error


def test_a_json_rpc_batch_is_refused_in_one_line(served):
    """MCP dropped JSON-RPC batches (2025-06-18); the answer was a 1.2 KB pydantic dump."""
    url, headers = served
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_order"}}, LIST]
    error = rpc_error(httpx.post(url, json=batch, headers={**headers, "MCP-Protocol-Version": "2025-11-25"}), 400)
    assert "batch" in error["message"] and "one JSON-RPC message per request" in error["message"], error
    assert "pydantic" not in error["message"], error
    assert error["data"]["code"] == "INVALID_ARGUMENT", error


def test_a_stale_session_id_says_to_initialize_again(served):
    """A client holding the session id of a restarted server."""
    url, headers = served
    stale = {**headers, "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "0f" * 16}
    error = rpc_error(httpx.post(url, json=LIST, headers=stale), 404)
    assert "initialize" in error["message"] and "Mcp-Session-Id" in error["message"], error
    assert error["data"]["code"] == "NOT_FOUND", error


def test_a_wrong_content_type_says_which_to_send(served):
    url, headers = served
    response = httpx.post(url, content=json.dumps(LIST), headers={**headers, "Content-Type": "text/plain"})
    error = rpc_error(response, 400)
    assert "Content-Type: application/json" in error["message"] and error["data"]["code"] == "INVALID_ARGUMENT"


def test_the_explained_limit_is_the_sdks():
    """servers/kit/http_refusals.py names the limit the MCP SDK enforces; an upgrade that moves it fails here."""
    from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE

    from servers.kit.http_refusals import BODY_LIMIT_MIB

    assert DEFAULT_MAX_REQUEST_BODY_SIZE == BODY_LIMIT_MIB * 1024 * 1024, (
        "the MCP SDK's request body limit changed: update BODY_LIMIT_MIB in servers/kit/http_refusals.py"
    )


def test_a_request_without_a_session_says_to_initialize_first(served):
    """tools/list straight away (protocol 2025-11-25, no initialize): 'Bad Request: Missing session ID'."""
    url, headers = served
    response = httpx.post(url, json=LIST, headers={**headers, "MCP-Protocol-Version": "2025-11-25"})
    error = rpc_error(response, 400)
    assert "initialize" in error["message"] and "Mcp-Session-Id" in error["message"], error
    assert "2026-07-28" in error["message"] and error["data"]["code"] == "INVALID_ARGUMENT", error
