"""What every Switchboard MCP server shares.

- :func:`build_server` makes a FastMCP server named ``switchboard-<name>`` with strict input
  validation, stable error codes and the tool-call hooks (audit plugs in here);
- :func:`request_context` gives a tool the caller's tenant and customer, resolved from the
  connection (launch flags, bearer token, or a trusted client's ``_meta``), never from arguments.
"""

from servers.kit.app import build_server
from servers.kit.identity import ServerLaunch, request_context

__all__ = ["ServerLaunch", "build_server", "request_context"]
