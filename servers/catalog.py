"""Which MCP servers Switchboard ships, and how to build each one (imported lazily)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastmcp import FastMCP

# server name -> "module:function" returning a FastMCP instance
SERVERS: dict[str, str] = {
    "orders": "servers.order_server.app:build_server",
    "kb": "servers.kb_server.app:build_server",
    "memory": "servers.memory_server.app:build_server",
}


def server_names() -> list[str]:
    return sorted(SERVERS)


def build(name: str, **kwargs: Any) -> FastMCP:
    """Build the named server; raises KeyError for an unknown name."""
    module_name, func_name = SERVERS[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)(**kwargs)
