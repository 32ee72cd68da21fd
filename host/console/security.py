"""The console's web security: a signed session cookie, CSRF tokens, and strict response headers.

- The session is a signed (itsdangerous, HMAC-SHA1 over the host's console key) cookie ``sb_console``:
  HttpOnly, SameSite=Strict, Path=/console, Secure on HTTPS; it holds the operator id, a CSRF token
  and the language, and expires after :data:`SESSION_MAX_AGE` (a disabled operator is signed out
  at the next request, since every request loads the account).
- Every POST carries the session's CSRF token (a hidden ``csrf`` field, or ``X-CSRF-Token``);
  a missing or wrong token is 403 and changes nothing.
- Every response carries a Content-Security-Policy without inline scripts or styles.

The key is ``$SWITCHBOARD_CONSOLE_SECRET`` or ``$SWITCHBOARD_HOME/console.key`` (created 0600 on
first use), so host workers sharing a home share sign-ins.
"""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "sb_console"
SESSION_MAX_AGE = 12 * 3600
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
_serializer: Any = None


def console_secret() -> str:
    given = os.environ.get("SWITCHBOARD_CONSOLE_SECRET")
    if given:
        return given
    from core.settings import get_settings

    path = get_settings().ensure_home() / "console.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def serializer() -> Any:
    global _serializer
    if _serializer is None:
        from itsdangerous import URLSafeTimedSerializer

        _serializer = URLSafeTimedSerializer(console_secret(), salt="switchboard.console")
    return _serializer


def reset() -> None:
    """Forget the cached key (tests that switch homes)."""
    global _serializer
    _serializer = None


def load_session(request: Request) -> dict[str, Any]:
    """The request's console session; a fresh one (new CSRF token, no operator) when absent or bad."""
    from itsdangerous import BadSignature

    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = serializer().loads(raw, max_age=SESSION_MAX_AGE)
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                return data
        except BadSignature:
            pass
    return {"csrf": secrets.token_urlsafe(32), "lang": "ko", "op": None, "new": True}


def save_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    data = {k: v for k, v in data.items() if k != "new"}
    response.set_cookie(
        COOKIE,
        serializer().dumps(data),
        max_age=SESSION_MAX_AGE,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def csrf_ok(request: Request, session: dict[str, Any], form: Any) -> bool:
    sent = request.headers.get("x-csrf-token") or (form.get("csrf") if form is not None else None)
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent, session["csrf"])


class SecurityHeaders:
    """Adds the CSP and related headers to every console response (pure ASGI: SSE streams pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, wrapped)
