"""Build a Switchboard MCP server: one function for every server we ship."""

from __future__ import annotations

import re
from typing import Any

from core.errors import invalid
from servers.kit.hooks import ToolCallHook, default_hooks
from servers.kit.identity import ServerLaunch
from servers.kit.telemetry import traced_hooks

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def is_semver(version: str) -> bool:
    """True for a full SemVer 2.0.0 version (no ranges, no ``latest``)."""
    return bool(_SEMVER.match(version))


def build_server(
    name: str,
    version: str,
    *,
    instructions: str,
    launch: ServerLaunch | None = None,
    hooks: list[ToolCallHook] | None = None,
    http_auth: bool = False,
    lifespan: Any = None,
) -> Any:
    """A FastMCP server named ``switchboard-<name>`` at ``version``.

    Input validation is strict (no coercion; unknown fields rejected), error details are masked
    and every call passes the kit's middleware (identity, hooks, stable error codes).
    ``hooks=None`` means the production hooks (the audit log); pass ``[]`` for none.
    """
    import logging

    from fastmcp import FastMCP

    from servers.kit.middleware import ToolCallMiddleware

    if not is_semver(version):
        raise invalid(f"server version {version!r} is not semver (e.g. 1.2.0)")
    launch = (launch or ServerLaunch.from_env()).validate()
    # fastmcp logs a failing tool's exception text, which may hold personal data; the kit's
    # middleware logs internal errors itself (type and frames only).
    logging.getLogger("fastmcp.server.server").setLevel(logging.CRITICAL)
    hooks = default_hooks(name) if hooks is None else hooks
    kwargs: dict[str, Any] = {}
    if http_auth:
        from servers.kit.tokens import token_verifier

        kwargs["auth"] = token_verifier()
    if lifespan is not None:
        kwargs["lifespan"] = lifespan
    server = FastMCP(
        f"switchboard-{name}",
        version=version,
        instructions=instructions,
        strict_input_validation=True,
        mask_error_details=True,
        middleware=[ToolCallMiddleware(name, version, launch, traced_hooks(hooks))],
        **kwargs,
    )
    from servers.kit.warm import register_warm_resource

    register_warm_resource(server)
    return server
