"""OAuth 2.1 for the host's REST/WebSocket API: the host as a protected resource.

Wraps the host's ASGI app (``host/app.py``) when ``SWITCHBOARD_OAUTH_ISSUER`` is set:

- ``/.well-known/oauth-protected-resource`` (and the path-specific form) describe the API
  (RFC 9728): the authorization server(s) and the scopes ``host:chat`` (the WebSocket
  conversation, ``/v1/ws``) and ``host:read`` (``GET /v1/sessions/…``, ``/v1/customers/…``);
- a request without a token, when the host requires one, gets 401 with
  ``WWW-Authenticate: Bearer resource_metadata="…"``; a bad OAuth token gets 401
  ``invalid_token``; a token without the path's scope gets 403 ``insufficient_scope``
  naming it. A WebSocket handshake is refused with close code 4401 / 4403 instead (browsers
  cannot read handshake headers);
- an accepted OAuth token's tenant and customer (from the configured claims) are put in the
  ASGI scope under ``switchboard.oauth``, where ``host.app.authenticate`` reads them. ``sbt_``
  tokens pass through to the existing check. The token goes no further than this check.

The resource (audience) is ``SWITCHBOARD_HOST_OAUTH_RESOURCE``, else ``http://<bind>:<port>``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from servers.kit.oauth import OAuthConfig, OAuthVerifier, Principal
from servers.kit.oauth_http import WELL_KNOWN, challenge, metadata_routes
from servers.kit.tokens import TOKEN_PREFIX

SCOPE_KEY = "switchboard.oauth"
HOST_SCOPES = ["host:chat", "host:read"]


def scope_for_path(path: str) -> str | None:
    """The scope a path needs; None for public paths (health, metadata)."""
    if path == "/v1/ws":
        return "host:chat"
    if path.startswith(("/v1/sessions/", "/v1/customers/")):
        return "host:read"
    return None


class HostOAuthGate:
    """Pure ASGI wrapper around the host app."""

    def __init__(self, app: Any, config: OAuthConfig, resource: str, *, require_token: bool) -> None:
        from starlette.routing import Router

        self.app = app
        self.resource = resource.rstrip("/")
        self.require_token = require_token
        self.verifier = OAuthVerifier(config, self.resource)
        self.metadata = Router(routes=metadata_routes(self.resource, config, HOST_SCOPES))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(WELL_KNOWN):
            await self.metadata(scope, receive, send)
            return
        needed = scope_for_path(path)
        if needed is None:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            if self.require_token:
                await self._refuse(scope, send, 401, None, "send `Authorization: Bearer <token>`")
                return
            await self.app(scope, receive, send)  # the host's default org applies
            return
        if token.startswith(TOKEN_PREFIX):
            await self.app(scope, receive, send)  # Switchboard's own token: host.app checks it
            return
        principal = await self.verifier.verify(token)
        if principal is None:
            await self._refuse(scope, send, 401, "invalid_token", "the access token is invalid, expired or revoked")
            return
        if needed not in principal.scopes:
            await self._refuse(scope, send, 403, "insufficient_scope", f"this needs the scope {needed}", needed)
            return
        await self.app({**scope, SCOPE_KEY: principal}, receive, send)

    async def _refuse(
        self, scope: dict[str, Any], send: Any, status: int, error: str | None, why: str, needed: str | None = None
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status, "reason": why[:120]})
            return
        body = json.dumps(
            {"error": {"code": "FORBIDDEN", "message": why, "oauth_error": error or "invalid_token", "scope": needed}}
        ).encode()
        header = challenge(self.resource, error=error, scope=needed, description=why if error else "")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", header.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: dict[str, Any]) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip() or None
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [None])[0]


def principal_of(conn: Any) -> Principal | None:
    """The OAuth principal :class:`HostOAuthGate` accepted for this request, if any."""
    value = conn.scope.get(SCOPE_KEY)
    return value if isinstance(value, Principal) else None


def with_oauth(app: Any, url: str, *, require_token: bool) -> Any:
    """``app`` behind the OAuth gate when ``SWITCHBOARD_OAUTH_ISSUER`` is set, else ``app`` itself."""
    config = OAuthConfig.from_env()
    if config is None:
        return app
    resource = os.environ.get("SWITCHBOARD_HOST_OAUTH_RESOURCE") or url
    return HostOAuthGate(app, config, resource, require_token=require_token)
