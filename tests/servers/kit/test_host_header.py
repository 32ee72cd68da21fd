"""`serve --transport http` behind a balancer: a refused Host header says which and how to admit it.

A walk of docs/scale-out.md: `registry publish orders 1.4.0 --url http://lb:9001/mcp` against a
server started without `--allowed-host lb:9001` failed with "UNAVAILABLE ... MCPError: Server
returned an error response" (fastmcp's bare ``421 Misdirected Request``), naming neither the Host
nor the flag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

SB = str(Path(sys.executable).with_name("switchboard"))
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _serve(sb_env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [SB, "serve", "orders", "--transport", "http", "--port", "0", *extra],
        env={**os.environ, **sb_env, "COLUMNS": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    assert line.startswith("✓ switchboard orders on http://127.0.0.1:"), line
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)


@pytest.fixture
def served(sb_env):
    proc, url = _serve(sb_env)
    yield url
    _stop(proc)


def test_a_refused_host_gets_a_json_rpc_error_naming_it_and_the_flag(served):
    from mcp.types import JSONRPCError, jsonrpc_message_adapter

    response = httpx.post(served, json=PING, headers={**HEADERS, "Host": "lb:9001"}, timeout=30)
    assert response.status_code == 421
    assert response.headers["content-type"] == "application/json"
    # the MCP client shows a JSON-RPC error body's message instead of "Server returned an error response"
    parsed = jsonrpc_message_adapter.validate_json(response.content, by_name=False)
    assert isinstance(parsed, JSONRPCError)
    assert "'lb:9001'" in parsed.error.message and "--allowed-host lb:9001" in parsed.error.message
    assert len(parsed.error.message) < 300  # registry publish shows the first 300 characters
    # the server's own names still pass the check (and reach the bearer-token check)
    for host in (served.split("/")[2], "localhost"):
        ok = httpx.post(served, json=PING, headers={**HEADERS, "Host": host}, timeout=30)
        assert ok.status_code == 401, (host, ok.status_code, ok.text)


async def test_the_mcp_client_shows_why(served):
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    transport = StreamableHttpTransport(served, headers={"Host": "lb:9001", "Authorization": "Bearer sbt_x"})
    with pytest.raises(Exception) as err:
        async with Client(transport, timeout=30):
            pass
    said = repr(err.value) + "".join(repr(e) for e in getattr(err.value, "exceptions", ()))
    assert "--allowed-host lb:9001" in said, said


def test_allowed_host_admits_the_balancers_name(sb_env):
    proc, url = _serve(sb_env, "--allowed-host", "lb:9001")
    try:
        for host in ("lb:9001", url.split("/")[2]):
            response = httpx.post(url, json=PING, headers={**HEADERS, "Host": host}, timeout=30)
            assert response.status_code == 401, (host, response.status_code, response.text)  # past the Host check
        other = httpx.post(url, json=PING, headers={**HEADERS, "Host": "evil.example"}, timeout=30)
        assert other.status_code == 421 and "--allowed-host evil.example" in other.text
    finally:
        _stop(proc)
