"""``python -m host.conformance_client <url>``: the host's MCP client for the conformance suite.

``conformance client --command "python -m host.conformance_client" --scenario tools_call`` starts
a mock server and runs this with its URL and ``MCP_CONFORMANCE_SCENARIO`` set. It uses the very
connection code the host uses (:class:`host.connections.ServerConnection`): connect, check the
handshake, list and hash the tools, then call what the scenario expects.
"""

from __future__ import annotations

import asyncio
import os
import sys

from host.connections import ANY_VERSION, ServerConnection, ServerPin

SCENARIO_CALLS = {
    "tools_call": ("add_numbers", {"a": 5, "b": 3}),
    "sse-retry": ("test_reconnection", {}),
}


async def run(url: str, scenario: str) -> int:
    pin = ServerPin("conformance", ANY_VERSION, "conformance", {"transport": "http", "url": url})
    conn = ServerConnection(pin, org_id="conformance")
    try:
        if not await conn.ensure_ready(30.0):
            print(f"could not connect to {url}: {conn.error}", file=sys.stderr)
            return 1
        print(f"connected: {conn.server_info} protocol {conn.protocol_version}; tools {sorted(conn.live_hashes)}")
        call = SCENARIO_CALLS.get(scenario)
        if call is not None:
            name, arguments = call
            result = await conn.call(name, arguments, meta={}, timeout_s=30.0)
            texts = [getattr(c, "text", "") for c in result.content or []]
            print(f"{name} → is_error={result.is_error} {' '.join(texts)}")
            return 1 if result.is_error else 0
        return 0
    finally:
        await conn.close()


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python -m host.conformance_client <server url>", file=sys.stderr)
        raise SystemExit(2)
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    raise SystemExit(asyncio.run(run(sys.argv[1], scenario)))


if __name__ == "__main__":
    main()
