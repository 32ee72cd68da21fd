"""What the kit relies on in fastmcp (pinned 4.1.2), checked so an upgrade fails here, by name,
instead of somewhere downstream (a changed definition hash, a Host guard that admits other names).

- servers/kit/schemas.py compacts output schemas through fastmcp's public Transform API on the
  local provider (it read the private ``local_provider._components`` before);
- servers/kit/http_errors.py resolves the Host allow-list as ``FastMCP.run(transport="http")``
  does (it imported the private ``_resolve_allowed_hosts_for_run`` before) and wraps the public
  ``fastmcp.server.http.HostOriginGuardMiddleware``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from pydantic import BaseModel

from servers.kit.schemas import compact_tool_schemas

UPGRADE = "fastmcp changed (pinned 4.1.2 in pyproject.toml): "


class Item(BaseModel):
    name: str
    note: str | None = None


def _server() -> FastMCP:
    server = FastMCP("pins")

    @server.tool
    def item(name: str) -> Item:
        """One item."""
        return Item(name=name)

    compact_tool_schemas(server)
    return server


def test_fastmcp_is_the_pinned_version() -> None:
    import fastmcp

    assert fastmcp.__version__ == "4.1.2", (
        f"{UPGRADE}installed {fastmcp.__version__}; re-check servers/kit/schemas.py and servers/kit/http_errors.py "
        "against it (this file says what they rely on), then update the pin and this test"
    )


async def test_compacted_output_schemas_are_what_is_listed_and_what_a_call_uses() -> None:
    server = _server()
    listed = {tool.name: tool for tool in await server.list_tools()}
    note = listed["item"].output_schema["properties"]["note"]
    assert note.get("type") == ["string", "null"] and "anyOf" not in note, (
        f"{UPGRADE}the local provider's Transform no longer reaches the listed tools: "
        f"servers/kit/schemas.py compact_tool_schemas has no effect ({note})"
    )
    got = await server.local_provider.get_tool("item")
    assert got is not None and got.output_schema == listed["item"].output_schema, (
        f"{UPGRADE}get_tool (the call path) no longer passes the local provider's Transform"
    )
    async with Client(server) as client:
        wire = {tool.name: tool for tool in await client.list_tools()}
        result = await client.call_tool("item", {"name": "a"})
    assert wire["item"].output_schema == listed["item"].output_schema
    assert result.structured_content == {"name": "a", "note": None}


def test_the_host_allow_list_is_resolved_as_fastmcp_run_resolves_it() -> None:
    import fastmcp
    from fastmcp.server.mixins import transport

    from servers.kit.http_errors import resolve_allowed_hosts

    theirs = getattr(transport, "_resolve_allowed_hosts_for_run", None)
    assert theirs is not None, (
        f"{UPGRADE}fastmcp.server.mixins.transport._resolve_allowed_hosts_for_run is gone: read how "
        "FastMCP.run_http_async resolves allowed_hosts now and make servers/kit/http_errors.py "
        "resolve_allowed_hosts agree, then compare against that here"
    )
    for host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "10.1.2.3"):
        for allowed in (None, ["lb:9001"], ["lb:9001", "mcp.example.com"]):
            for configured in (None, ["conf.example"]):
                protection: Any = True if allowed else "auto"
                expected = theirs(
                    host=host,
                    host_origin_protection=protection,
                    allowed_hosts=allowed,
                    configured_allowed_hosts=configured,
                )
                assert resolve_allowed_hosts(host, allowed, configured) == expected, (
                    f"{UPGRADE}FastMCP.run resolves the Host allow-list for host={host!r}, "
                    f"allowed_hosts={allowed!r}, configured={configured!r} as {expected!r}: "
                    "update servers/kit/http_errors.py resolve_allowed_hosts"
                )
    assert fastmcp.settings.http_allowed_hosts is None or isinstance(fastmcp.settings.http_allowed_hosts, list)


def test_the_host_origin_guard_takes_what_the_kit_passes() -> None:
    from fastmcp.server.http import HostOriginGuardMiddleware

    params = inspect.signature(HostOriginGuardMiddleware).parameters
    missing = {"app", "allowed_hosts", "mode"} - set(params)
    assert not missing, f"{UPGRADE}HostOriginGuardMiddleware lacks {sorted(missing)} (servers/kit/http_errors.py)"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"host": "evil.example"}, 421), ({"host": "127.0.0.1:8765", "origin": "http://evil.example"}, 403)],
)
async def test_the_guard_refuses_with_the_statuses_the_kit_explains(headers: dict[str, str], status: int) -> None:
    """servers/kit/http_errors.py ExplainedHostGuard rewrites the guard's 421 (Host) and 403 (Origin)."""
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from servers.kit.http_errors import host_guard

    async def ok(request: Any) -> Any:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/mcp", ok, methods=["POST"])], middleware=[host_guard("127.0.0.1", None)])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as http:
        refused = await http.post("/mcp", headers=headers)
        passed = await http.post("/mcp", headers={"host": "127.0.0.1:8765"})
    assert refused.status_code == status and refused.json()["error"]["data"]["code"] == "FORBIDDEN", (
        f"{UPGRADE}the Host/Origin guard answered {refused.status_code} {refused.text[:200]!r}"
    )
    assert passed.status_code == 200, passed.text


def test_the_stdio_transport_finds_what_it_runs_the_server_with() -> None:
    """servers/kit/stdio.py serves through FastMCP's private ``_lifespan_manager`` and
    ``_mcp_server`` (what ``FastMCP.run_stdio_async`` uses); without them it falls back to the SDK's
    slower stdio transport without a word, so an upgrade that renames them fails here."""
    server = FastMCP("pins")
    for name in ("_lifespan_manager", "_mcp_server"):
        assert hasattr(server, name), (
            f"{UPGRADE}FastMCP has no {name}: servers/kit/stdio.py run_stdio falls back to the SDK transport; "
            "read FastMCP.run_stdio_async and update _serve"
        )
    assert callable(server._lifespan_manager) and hasattr(server._mcp_server, "create_initialization_options")
