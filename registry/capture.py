"""Connect to a server the way a client would and capture what it advertises.

One connection: the handshake's serverInfo and every page of ``tools/list``. Servers launched
over stdio get an explicit environment (Switchboard's data location and a fixed tenant so they
start); their stderr is kept and quoted when the connection fails.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SwitchboardError, invalid, unavailable
from core.settings import get_settings
from registry.launch import LaunchSpec

# The tenant a server is started with while the registry lists its tools (no tool is called).
PUBLISH_ORG = "registry"
MAX_PAGES = 500
MAX_TOOLS = 2000
_QUIET_ENV = {
    "ANONYMIZED_TELEMETRY": "False",
    "FASTMCP_SHOW_SERVER_BANNER": "false",
    "FASTMCP_ENABLE_RICH_LOGGING": "false",
    "FASTMCP_LOG_LEVEL": "WARNING",
}


@dataclass(slots=True)
class Capture:
    """What a server advertised on one connection."""

    server_info: dict[str, Any]
    protocol_version: str | None
    tools: list[Any] = field(default_factory=list)  # mcp_types.Tool, in the order listed


def stdio_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a server is spawned with for publishing."""
    settings = get_settings()
    env = dict(_QUIET_ENV)
    env["SWITCHBOARD_HOME"] = str(settings.home)
    env["SWITCHBOARD_ORG"] = PUBLISH_ORG
    if settings.database_url:
        env["SWITCHBOARD_DATABASE_URL"] = settings.database_url
    env.update(extra or {})
    return env


def _transport(launch: LaunchSpec, token: str | None, stderr_path: Path) -> Any:
    from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

    if launch.transport == "http":
        if token is None and launch.token_ref:
            token = os.environ.get(launch.token_ref)
        return StreamableHttpTransport(launch.url or "", auth=token or None)
    return StdioTransport(
        launch.command or "",
        list(launch.args),
        env=stdio_env(),
        cwd=launch.cwd,
        keep_alive=False,
        log_file=stderr_path,
    )


def _stderr_tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return f" Server stderr: …{text[-limit:]}" if text else ""


def _validation_summary(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)[:300]
    parts = []
    for err in errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _list_all_tools(client: Any) -> list[Any]:
    """Every tool over every page, following ``nextCursor`` (a repeated cursor is an error)."""
    tools: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        result = await client.list_tools_mcp(cursor=cursor, cache_mode="bypass")
        tools.extend(result.tools)
        if len(tools) > MAX_TOOLS:
            raise invalid(f"the server lists more than {MAX_TOOLS} tools; the registry refuses it")
        cursor = result.next_cursor
        if not cursor:
            return tools
        if cursor in seen:
            raise invalid("the server's tools/list pagination loops (a cursor came back twice)")
        seen.add(cursor)
    raise invalid(f"the server's tools/list has more than {MAX_PAGES} pages")


async def capture_server(
    launch: LaunchSpec, *, token: str | None = None, connect_to: Any = None, timeout_s: float = 60.0
) -> Capture:
    """Connect, read serverInfo and list every tool.

    ``connect_to`` replaces the transport built from ``launch`` (an in-process FastMCP server,
    for tests); ``launch`` is still what gets stored.
    """
    import pydantic
    from fastmcp import Client
    from mcp_types import Implementation

    with tempfile.TemporaryDirectory(prefix="sb-publish-") as tmp:
        stderr_path = Path(tmp) / "stderr.log"
        transport = connect_to if connect_to is not None else _transport(launch, token, stderr_path)
        client = Client(
            transport,
            timeout=timeout_s,
            init_timeout=timeout_s,
            client_info=Implementation(name="switchboard-registry", version="1"),
        )
        try:
            async with client:
                info = client.server_info
                server_info = info.model_dump(by_alias=True, exclude_none=True, mode="json") if info else {}
                tools = await _list_all_tools(client)
                return Capture(server_info, client.protocol_version, tools)
        except SwitchboardError:
            raise
        except pydantic.ValidationError as exc:
            raise invalid(f"the server's answer is not valid MCP: {_validation_summary(exc)}") from None
        except Exception as exc:
            refusal = await _http_refusal(launch, token) if connect_to is None else None
            if refusal:
                raise unavailable(f"could not list the tools of `{launch.describe()}`: {refusal}") from None
            raise unavailable(
                f"could not list the tools of `{launch.describe()}`: {type(exc).__name__}: {str(exc)[:300]}."
                f"{_stderr_tail(stderr_path)} Check that the command starts an MCP server (or the URL and token)."
            ) from None


async def _http_refusal(launch: LaunchSpec, token: str | None) -> str | None:
    """Why an HTTP server refused us, when it answered 401 or 403 (the MCP client only says "Server
    returned an error response": a 401 body is not JSON-RPC). One ping, the connection's token."""
    if launch.transport != "http" or not launch.url:
        return None
    import httpx

    if token is None and launch.token_ref:
        token = os.environ.get(launch.token_ref)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(launch.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
    except httpx.HTTPError:
        return None
    if answer.status_code not in (401, 403):
        return None
    try:
        said = str(answer.json().get("error_description") or "")[:200]
    except (ValueError, AttributeError):
        said = ""
    said = f" ({said})" if said else ""
    if not token:
        where = f"${launch.token_ref} is not set, so " if launch.token_ref else ""
        return (
            f"the server answered HTTP {answer.status_code}: {where}no token was sent{said}. Pass one with "
            "--token (used for this connection only) and --token-ref VAR naming where hosts read it"
        )
    return (
        f"the server answered HTTP {answer.status_code}: it refused the token{said}. Pass a token this server "
        "accepts with --token (for Switchboard servers: `switchboard tokens create --org ORG`)"
    )
