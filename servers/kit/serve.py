"""Run one Switchboard server over stdio or Streamable HTTP."""

from __future__ import annotations

import os
from typing import Literal

from servers import catalog
from servers.kit.identity import ServerLaunch

Transport = Literal["stdio", "http"]


def quiet_fastmcp() -> None:
    """No banner, no rich logs on stdout/stderr noise, no telemetry."""
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_ENABLE_RICH_LOGGING", "false")
    os.environ.setdefault("FASTMCP_LOG_LEVEL", "WARNING")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def serve(
    name: str,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    path: str = "/mcp",
    launch: ServerLaunch | None = None,
    allowed_hosts: list[str] | None = None,
) -> None:
    """Serve ``name`` until interrupted. HTTP requires bearer tokens and checks Host/Origin."""
    quiet_fastmcp()
    if transport == "stdio":
        server = catalog.build(name, launch=launch)
        server.run(transport="stdio", show_banner=False)
        return
    server = catalog.build(name, launch=launch or ServerLaunch(), http_auth=True)
    server.run(
        transport="http",
        host=host,
        port=port,
        path=path,
        show_banner=False,
        log_level="warning",
        host_origin_protection="auto" if not allowed_hosts else True,
        allowed_hosts=allowed_hosts,
    )
