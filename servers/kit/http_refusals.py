"""The MCP transport's bare refusals, explained: a stable code and what to do next.

The MCP SDK's Streamable HTTP transport refuses some requests before any tool runs, with a body
the MCP client cannot show (``text/plain``: the client says "Server returned an error response")
or one that says nothing useful. This pure ASGI middleware rewrites exactly those answers into a
short JSON-RPC error (``data.code`` carries our stable code) and leaves every other response,
streams included, untouched:

- ``413 Request body too large`` (over the SDK's 4 MiB) → names the limit, INVALID_ARGUMENT;
- a JSON-RPC batch (MCP dropped batching in 2025-06-18) → one line instead of a pydantic dump;
- ``404 Session not found`` (a stale ``Mcp-Session-Id``) → to start a new session, NOT_FOUND;
- ``400 Missing session ID`` (no initialize first) → how to get one, INVALID_ARGUMENT;
- ``400 Invalid Content-Type header`` → to send ``application/json``.
"""

from __future__ import annotations

import json
from typing import Any

from servers.kit.http_errors import send_rpc_error

BODY_LIMIT_MIB = 4  # mcp.server.transport_security.DEFAULT_MAX_REQUEST_BODY_SIZE (tested)

TOO_LARGE = (
    f"the request body is over {BODY_LIMIT_MIB} MiB, this server's limit for one MCP message: "
    "send smaller tool arguments (ids and short text; documents go into a knowledge base with `switchboard kb`)"
)
BATCH = (
    "a JSON-RPC batch (a JSON array) is not accepted: MCP removed batching in protocol 2025-06-18; "
    "send one JSON-RPC message per request"
)
STALE_SESSION = (
    "this Mcp-Session-Id is not known here (the session ended or the server restarted): start a new "
    "session by sending initialize without an Mcp-Session-Id header"
)
NO_SESSION = (
    "this request needs a session: send initialize first and repeat the Mcp-Session-Id header it "
    "returns on every request (protocol 2026-07-28 needs no session)"
)
CONTENT_TYPE = "send the JSON-RPC message with `Content-Type: application/json`"

_HELD = (400, 404, 413)  # the statuses whose body is read before deciding


def _explained(status: int, body: bytes, batch: bool) -> tuple[str, str] | None:
    """(message, stable code) for a transport refusal we explain, else None (passed unchanged)."""
    if status == 413 and body == b"Request body too large":
        return TOO_LARGE, "INVALID_ARGUMENT"
    if status == 400 and body == b"Invalid Content-Type header":
        return CONTENT_TYPE, "INVALID_ARGUMENT"
    try:
        error = json.loads(body).get("error") or {}
        said = str(error.get("message", ""))
    except (ValueError, AttributeError):
        return None
    if status == 400 and batch and said.startswith("Validation error"):
        return BATCH, "INVALID_ARGUMENT"
    if status == 400 and said.startswith("Bad Request: Missing session ID"):
        return NO_SESSION, "INVALID_ARGUMENT"
    if status == 404 and said == "Session not found":
        return STALE_SESSION, "NOT_FOUND"
    return None


class ExplainedRefusals:
    """Pure ASGI: only 400/404/413 answers are held (whole) and maybe rewritten."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first: list[bytes] = []  # the body's first non-blank byte: b"[" is a batch

        async def peeking_receive() -> dict[str, Any]:
            message = await receive()
            if not first and message["type"] == "http.request":
                start = message.get("body", b"").lstrip()[:1]
                if start:
                    first.append(start)
            return message

        held: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def explained_send(message: dict[str, Any]) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] in _HELD:
                held = message
                return
            if held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                start, held = held, None
                body = b"".join(chunks)
                chunks.clear()
                explained = _explained(start["status"], body, first == [b"["])
                if explained is None:
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                else:
                    await send_rpc_error(send, start["status"], *explained)
                return
            await send(message)

        await self.app(scope, peeking_receive, explained_send)
