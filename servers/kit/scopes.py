"""Which OAuth scope each tool needs, and the per-call check behind the HTTP gate.

Scopes are per server and per kind of effect: reading (``orders:read``, ``kb:read``,
``memory:read``), changing a customer's memories (``memory:write``) and moving money
(``orders:refund``). ``tools/list`` shows every tool; a ``tools/call`` without the tool's scope is
refused with HTTP 403 ``insufficient_scope`` naming the scope (``servers/kit/oauth_http.py``), so
the client can step up (MCP authorization, 2025-11-25). :class:`ScopeHook` repeats the check inside
the server (a stable ``FORBIDDEN`` with ``details.scope``) and hands the token's subject and
client id to the audit hook. A tool missing from :data:`TOOL_SCOPES` needs ``<server>:write``:
a new tool is never readable by a token that was granted less.

Only OAuth tokens carry scopes. Switchboard's own ``sbt_`` tokens keep full access to their tenant,
as before.
"""

from __future__ import annotations

from typing import Any

from core.errors import forbidden

TOOL_SCOPES: dict[str, dict[str, str]] = {
    "orders": {
        "get_order": "orders:read",
        "get_refund_status": "orders:read",
        "get_shipping_status": "orders:read",
        "find_orders": "orders:read",
        "find_refund_request": "orders:read",
        "verify_caller": "orders:read",  # records a check, changes no order: needed before any read
        "request_refund": "orders:refund",
        "confirm_refund": "orders:refund",
    },
    "kb": {
        "search": "kb:read",
        "list_knowledge_bases": "kb:read",
        "get_chunk": "kb:read",
        "get_document": "kb:read",
    },
    "memory": {
        "search_memories": "memory:read",
        "list_memories": "memory:read",
        "get_memory": "memory:read",
        "memory_history": "memory:read",
        "get_statements": "memory:read",
        "add_memory": "memory:write",
        "update_memory": "memory:write",
        "delete_memory": "memory:write",
        "delete_all_memories": "memory:write",
        "define_statement": "memory:write",
        "set_statement": "memory:write",
    },
}


def scope_for(server: str, tool: str) -> str:
    """The scope a call of ``tool`` on ``server`` needs (``<server>:write`` for a tool not listed)."""
    return TOOL_SCOPES.get(server, {}).get(tool, f"{server}:write")


def scopes_supported(server: str) -> list[str]:
    """Every scope of ``server``, for protected-resource metadata."""
    return sorted(set(TOOL_SCOPES.get(server, {}).values()) | {f"{server}:read"})


def base_scopes(server: str) -> list[str]:
    """What a first authorization asks for: reading only; writing and refunds come by step-up."""
    return [f"{server}:read"]


def oauth_claims(access_token: Any) -> dict[str, Any] | None:
    """The OAuth part of a verified fastmcp access token, or None for an ``sbt_`` token."""
    claims = getattr(access_token, "claims", None) or {}
    oauth = claims.get("oauth")
    return oauth if isinstance(oauth, dict) else None


class ScopeHook:
    """Refuses a call whose OAuth token lacks the tool's scope; records who called for the audit hook.

    Runs before the audit hook (``servers/kit/hooks.py``); it puts ``call.state["oauth"]`` =
    ``{"subject", "client_id", "issuer"}``.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name

    async def before_call(self, call: Any) -> None:
        from fastmcp.server.dependencies import get_access_token

        oauth = oauth_claims(get_access_token())
        if oauth is None:
            return
        call.state["oauth"] = {k: oauth.get(k) for k in ("subject", "client_id", "issuer")}
        needed = scope_for(self.server_name, call.tool_name)
        if needed not in oauth.get("scopes", ()):
            raise forbidden(
                f"this token lacks the scope {needed!r} that {call.tool_name} needs: "
                f"authorize again asking for {needed!r}",
                scope=needed,
            )

    async def after_call(self, call: Any, outcome: Any) -> None:
        return None
