"""Give every 401 of the HTTP transport a JSON body and a ``WWW-Authenticate: Bearer`` header.

fastmcp's bearer check answers a request *without* a token with an empty 401 body; integrators
(curl, a CRM's HTTP client) then see nothing to act on. This ASGI middleware rewrites such a
response into ``{"error": "invalid_token", "code": "FORBIDDEN", "error_description": "..."}``
(RFC 6750 field names plus our stable code) and keeps any ``WWW-Authenticate`` header the
auth layer set. A revoked, expired or unknown token gets the same shape (fastmcp's own body has no
stable code and tells the client to "re-register", which does not fit ``sbt_`` tokens); other
responses pass unchanged.
"""

from __future__ import annotations

import json
from typing import Any

MISSING_TOKEN = (
    "this server needs a bearer token: send `Authorization: Bearer <token>`; "
    "create one with `switchboard tokens create --org ORG [--customer REF]`"
)


BAD_TOKEN = (
    "the bearer token was not accepted (revoked, expired or unknown): create a new one with "
    "`switchboard tokens create --org ORG [--customer REF]`; `switchboard tokens list` shows which are revoked"
)


class JsonAuthErrors:
    """Pure ASGI middleware (works with streaming responses: only empty 401s are rewritten)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 401:
                held = message  # decide when the body arrives
                return
            if held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return  # a 401's body is small: read it whole, then decide
                start, held = held, None
                body = b"".join(chunks)
                chunks.clear()
                if not body:
                    await _send_json_401(start, send, MISSING_TOKEN)
                    return
                if _lacks_our_code(body):  # the auth layer's own answer to a bad token
                    await _send_json_401(start, send, BAD_TOKEN)
                    return
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, guarded_send)


OAUTH_HINT = " — or an OAuth access token from the authorization server named at resource_metadata (docs/oauth.md)"


def _lacks_our_code(body: bytes) -> bool:
    """An RFC 6750 ``invalid_token`` body without our stable code (fastmcp's answer to a revoked,
    expired or unknown token, whose advice to "re-register" does not fit ``sbt_`` tokens)."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("error") == "invalid_token" and "code" not in data


async def _send_json_401(start: dict[str, Any], send: Any, said: str) -> None:
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
    oauth = any(k.lower() == b"www-authenticate" and b"resource_metadata=" in v for k, v in headers)
    description = said + (OAUTH_HINT if oauth else "")
    body = json.dumps(
        {"error": "invalid_token", "code": "FORBIDDEN", "error_description": description}, ensure_ascii=False
    ).encode("utf-8")
    if not any(k.lower() == b"www-authenticate" for k, _ in headers):
        headers.append((b"www-authenticate", b"Bearer"))
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# the Host check -----------------------------------------------------------------------------

PASSED_GUARD = "switchboard.host_check_passed"


def misdirected_message(host: str) -> str:
    """What a request whose Host header the server refuses is told (kept short: clients cut it)."""
    return (
        f"this server does not accept the Host {host or '(none)'!r} (DNS-rebinding protection). "
        f"Reached through a load balancer or another name? Start it with `--allowed-host {host or 'NAME:PORT'}`"
    )


class ExplainedHostGuard:
    """fastmcp's Host/Origin guard, with its bare ``421 Misdirected Request`` explained.

    A server behind a balancer (`--url http://lb:9001/mcp`) sees the Host ``lb:9001`` and refuses
    it. fastmcp answers ``text/plain`` "Misdirected Request", which the MCP client turns into
    "Server returned an error response": `registry publish` and the host then say nothing of the
    Host or of `--allowed-host`. Here the same guard decides, and its 421 carries a JSON-RPC error
    (which the client shows) naming the refused Host and the flag that admits it. A 421 of the
    application itself (past the guard) passes unchanged.
    """

    def __init__(self, app: Any, allowed_hosts: list[str] | None, mode: str) -> None:
        from fastmcp.server.http import HostOriginGuardMiddleware

        self.app = app
        self.guard = HostOriginGuardMiddleware(self._passed, allowed_hosts=allowed_hosts, mode=mode)  # type: ignore[arg-type]

    async def _passed(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope[PASSED_GUARD] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.guard(scope, receive, send)
            return
        refused = False

        async def explained_send(message: dict[str, Any]) -> None:
            nonlocal refused
            status = message.get("status")
            if message["type"] == "http.response.start" and status in (403, 421) and not scope.get(PASSED_GUARD):
                refused = True
                headers = dict(scope.get("headers") or [])
                if status == 421:
                    said = misdirected_message(headers.get(b"host", b"").decode("latin-1"))
                else:
                    said = foreign_origin_message(headers.get(b"origin", b"").decode("latin-1"))
                await send_rpc_error(send, status, said, "FORBIDDEN")
                return
            if refused:
                return  # the guard's own text body: already answered
            await send(message)

        await self.guard(scope, receive, explained_send)


def foreign_origin_message(origin: str) -> str:
    """What a request from a web page of another origin is told (a DNS-rebinding attempt, or a
    browser app calling the server directly)."""
    return (
        f"this server does not accept requests from the web page at Origin {origin[:80]!r} (DNS-rebinding "
        "protection): call it from a server-side client, which sends no Origin header"
    )


async def send_rpc_error(send: Any, status: int, message: str, code: str) -> None:
    """Answer ``status`` with a JSON-RPC error: the MCP client shows its message (a text/plain body
    becomes "Server returned an error response"); ``data.code`` is our stable code."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message, "data": {"code": code}}},
        ensure_ascii=False,
    ).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def resolve_allowed_hosts(host: str, allowed_hosts: list[str] | None, configured: list[str] | None) -> list[str] | None:
    """The Host allow-list ``FastMCP.run(transport="http")`` would hand its guard (fastmcp 4.1.2's
    private ``_resolve_allowed_hosts_for_run``, restated here; tests/servers/kit/test_fastmcp_pins.py
    compares the two): ``--allowed-host`` names as given, else the configured names plus the bind
    address when that is loopback."""
    if allowed_hosts:
        return allowed_hosts
    if _loopback(host):
        return [*(configured or []), host]
    return configured


def _loopback(host: str) -> bool:
    """A loopback bind address: ``localhost``, ``127.x``, ``::1`` (bracketed or not)."""
    from ipaddress import ip_address

    bare = host.strip().lower()
    bare = bare[1 : bare.find("]")] if bare.startswith("[") and "]" in bare else bare
    if bare.count(":") == 1:
        bare = bare.rsplit(":", 1)[0]
    if bare == "localhost":
        return True
    try:
        return ip_address(bare).is_loopback
    except ValueError:
        return False


def host_guard(host: str, allowed_hosts: list[str] | None) -> Any:
    """The Host/Origin guard `serve` mounts, resolved as fastmcp resolves it for ``server.run``
    (``--allowed-host`` given: strict, those names plus loopback; else auto: loopback binds only)."""
    import fastmcp
    from starlette.middleware import Middleware

    resolved = resolve_allowed_hosts(host, allowed_hosts or None, fastmcp.settings.http_allowed_hosts)
    return Middleware(ExplainedHostGuard, allowed_hosts=resolved, mode="strict" if allowed_hosts else "auto")
