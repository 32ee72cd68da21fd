"""OAuth 2.1 on the HTTP surface of a resource server: metadata, challenges, the per-tool gate.

- Protected-resource metadata (RFC 9728) at ``/.well-known/oauth-protected-resource`` and at the
  path-specific ``/.well-known/oauth-protected-resource<path>`` (e.g. ``.../mcp``), naming the
  authorization server(s), the scopes and the header bearer method.
- A 401 carries ``WWW-Authenticate: Bearer resource_metadata="…", scope="<server>:read"`` (and a
  JSON body, from ``servers/kit/http_errors.py``); a ``tools/call`` whose token lacks the tool's
  scope gets 403 with ``Bearer error="insufficient_scope", scope="orders:refund", …`` before the
  MCP layer sees it, which is how the MCP authorization spec (2025-11-25, "scope challenge")
  asks a client to step up.
- :class:`SwitchboardAuth` is the fastmcp auth provider: ``sbt_`` tokens take the existing path
  (``servers/kit/tokens.py``), any other token is an OAuth access token
  (``servers/kit/oauth.py``). The token is never passed on to anything downstream.

The host's REST/WebSocket API reuses :func:`metadata_routes` and :func:`challenge`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from servers.kit.oauth import OAuthConfig, OAuthVerifier, Principal
from servers.kit.scopes import base_scopes, oauth_claims, scope_for, scopes_supported

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_MAX_BODY = 4 * 1024 * 1024  # the gate reads a tools/call body up to this size (MCP messages are small)


def metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: the well-known path is inserted between the origin and the resource's path."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{parts.path.rstrip('/')}"


def protected_resource_metadata(resource: str, config: OAuthConfig, scopes: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(config.issuers),
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    }
    if config.resource_name:
        body["resource_name"] = config.resource_name
    return body


def metadata_routes(resource: str, config: OAuthConfig, scopes: list[str]) -> list[Any]:
    """GET routes serving the metadata at the root and at the path-specific well-known URL."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    body = protected_resource_metadata(resource, config, scopes)

    async def handler(request: Any) -> Any:
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})

    paths = {WELL_KNOWN, urlsplit(metadata_url(resource)).path}
    return [Route(p, handler, methods=["GET"]) for p in sorted(paths)]


def challenge(resource: str, *, error: str | None = None, scope: str | None = None, description: str = "") -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3, RFC 9728 §5.1)."""
    parts = []
    if error:
        parts.append(f'error="{error}"')
    if scope:
        parts.append(f'scope="{scope}"')
    parts.append(f'resource_metadata="{metadata_url(resource)}"')
    if description:
        parts.append(f'error_description="{description.replace(chr(34), chr(39))}"')
    return "Bearer " + ", ".join(parts)


def access_token_for(principal: Principal, token: str) -> Any:
    """The fastmcp access token of an OAuth principal; its claims feed servers/kit/identity.py.

    Only Switchboard's own keys are set (``org_id``, ``customer_ref``, ``trusted`` is always False):
    a claim in the JWT can never make a caller trusted.
    """
    from fastmcp.server.auth.auth import AccessToken

    return AccessToken(
        token=token,
        client_id=principal.client_id or "unknown",
        scopes=sorted(principal.scopes),
        expires_at=principal.expires_at,
        claims={
            "org_id": principal.org_id,
            "customer_ref": principal.customer_ref,
            "trusted": False,
            "token_id": f"oauth:{principal.client_id}"[:200],
            "oauth": {
                "subject": principal.subject,
                "client_id": principal.client_id,
                "issuer": principal.issuer,
                "scopes": sorted(principal.scopes),
            },
        },
    )


def auth_provider(server_name: str, config: OAuthConfig, resource: str) -> Any:
    """The fastmcp auth provider for ``server_name`` served at ``resource`` (its canonical URL)."""
    from fastmcp.server.auth import TokenVerifier
    from pydantic import AnyHttpUrl

    from servers.kit.tokens import TOKEN_PREFIX, token_verifier

    verifier = OAuthVerifier(config, resource)
    own_tokens = token_verifier()

    class SwitchboardAuth(TokenVerifier):
        """``sbt_`` tokens, or OAuth access tokens for this resource."""

        async def verify_token(self, token: str) -> Any:  # type: ignore[override]
            if token.startswith(TOKEN_PREFIX):
                return await own_tokens.verify_token(token)
            principal = await verifier.verify(token)
            return access_token_for(principal, token) if principal else None

        @property
        def scopes_supported(self) -> list[str]:
            return scopes_supported(server_name)

        def get_challenge_scopes(self, required_scopes: list[str] | None = None) -> list[str]:
            return base_scopes(server_name) if required_scopes is None else required_scopes

        def _get_resource_url(self, path: str | None = None) -> Any:
            return AnyHttpUrl(resource)

        def get_routes(self, mcp_path: str | None = None) -> list[Any]:
            return metadata_routes(resource, config, scopes_supported(server_name))

    return SwitchboardAuth()


class ScopeGate:
    """Pure ASGI: answers 403 ``insufficient_scope`` to a ``tools/call`` the OAuth token may not make.

    Sits inside the authentication middleware (``scope["user"]`` is set). ``sbt_`` tokens and
    requests other than POST pass untouched; the body is read once and replayed.
    """

    def __init__(self, app: Any, server_name: str, resource: str, path: str) -> None:
        self.app = app
        self.server_name = server_name
        self.resource = resource
        self.path = path.rstrip("/") or "/"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        oauth = oauth_claims(getattr(user, "access_token", None))
        if oauth is None:
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > _MAX_BODY:
                break
        body = b"".join(chunks)
        missing = self._missing_scope(body, set(oauth.get("scopes", ()))) if not more else None
        if missing:
            await self._refuse(send, missing)
            return
        replay = [{"type": "http.request", "body": body, "more_body": more}]
        await self.app(scope, _replay(replay, receive), send)

    def _missing_scope(self, body: bytes, granted: set[str]) -> str | None:
        try:
            message = json.loads(body)
        except ValueError:
            return None  # the MCP layer answers a parse error
        for item in message if isinstance(message, list) else [message]:
            if not isinstance(item, dict) or item.get("method") != "tools/call":
                continue
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                needed = scope_for(self.server_name, name)
                if needed not in granted:
                    return needed
        return None

    async def _refuse(self, send: Any, needed: str) -> None:
        description = f"this call needs the scope {needed}: authorize again asking for it"
        body = json.dumps(
            {
                "error": "insufficient_scope",
                "code": "FORBIDDEN",
                "scope": needed,
                "error_description": description,
            }
        ).encode()
        header = challenge(self.resource, error="insufficient_scope", scope=needed, description=description)
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", header.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[dict[str, Any]], receive: Any = None) -> Any:
    pending = list(messages)

    async def replayed() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


def http_oauth(server_name: str, url: str, path: str) -> tuple[Any, list[Any]] | None:
    """For ``switchboard serve NAME --transport http``: the auth provider and the starlette
    middleware when ``SWITCHBOARD_OAUTH_ISSUER`` is set, else None (``sbt_`` tokens only)."""
    config = OAuthConfig.from_env()
    if config is None:
        return None
    from starlette.middleware import Middleware

    resource = config.resource or url
    return auth_provider(server_name, config, resource), [
        Middleware(ScopeGate, server_name=server_name, resource=resource, path=path)
    ]
