"""``registry serve``: the read-only MCP Registry API v0.1 for sub-registry tooling and IDEs.

- ``GET /v0.1/servers`` — ``cursor``, ``limit`` (1-100, default 30), ``search`` (substring of
  the name), ``version`` (``latest`` or an exact version), ``updated_since`` (RFC 3339; implies
  ``include_deleted``), ``include_deleted``;
- ``GET /v0.1/servers/{serverName}/versions`` — every listed version of one server;
- ``GET /v0.1/servers/{serverName}/versions/{version}`` — one version (``latest`` allowed).

``serverName`` is URL-encoded (``io.github.switchboard%2Forders``). Responses follow the official
``ServerList`` / ``ServerResponse`` schemas; errors are ``{"error": "..."}`` with 400 or 404.
Revoked versions (official status ``deleted``) are left out of lists unless ``include_deleted``
or ``updated_since`` asks for them, but a direct request for one always answers with its status,
so a client holding a pin learns that it was revoked.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.api_listing import Entry, load_entries, sort_key
from registry.serverjson import namespace

DEFAULT_LIMIT = 30
MAX_LIMIT = 100


NO_ROUTE = (
    "no such endpoint: this API answers GET /v0.1/servers, /v0.1/servers/{name}/versions and "
    "/v0.1/servers/{name}/versions/{version} (name URL-encoded, e.g. io.github.switchboard%2Forders)"
)
READ_ONLY = (
    "this registry API is read-only (GET): publish with `switchboard registry publish`, "
    "review with `switchboard registry review`"
)


class BadRequest(Exception):
    """A query parameter the API cannot use (answered with 400)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def encode_cursor(entry: Entry) -> str:
    raw = json.dumps([entry.name, entry.version], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple:
    try:
        name, version = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(name, str) or not isinstance(version, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadRequest("cursor is not one this registry returned: use metadata.nextCursor as given") from None
    return sort_key(name, version)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return value in ("true", "1")


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("updated_since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest("updated_since must be an RFC 3339 date-time with a time zone, e.g. 2026-01-01T00:00:00Z")
    return moment


def _page(entries: list[Entry], request: Request) -> dict:
    limit = _limit(request)
    cursor = request.query_params.get("cursor")
    if cursor:
        after = decode_cursor(cursor)
        entries = [e for e in entries if e.sort_key > after]
    page = entries[:limit]
    metadata: dict = {"count": len(page)}
    if len(entries) > limit:
        metadata["nextCursor"] = encode_cursor(page[-1])
    return {"servers": [e.response for e in page], "metadata": metadata}


def create_app(ns: str | None = None) -> Starlette:
    """The v0.1 read API over this Switchboard registry, naming servers under ``ns``."""
    chosen = namespace(ns)

    async def list_servers(request: Request) -> JSONResponse:
        search = (request.query_params.get("search") or "").lower()
        version = request.query_params.get("version")
        since = _since(request)
        include_deleted = _flag(request, "include_deleted") or since is not None
        entries = [
            e
            for e in await load_entries(chosen)
            if (include_deleted or not e.deleted)
            and (not search or search in e.name.lower())
            and (version is None or (e.is_latest if version == "latest" else e.version == version))
            and (since is None or e.updated_at > since)
        ]
        return JSONResponse(_page(entries, request))

    async def _versions_of(request: Request) -> list[Entry]:
        name = request.path_params["name"]
        return [e for e in await load_entries(chosen) if e.name == name]

    async def list_versions(request: Request) -> JSONResponse:
        include_deleted = _flag(request, "include_deleted")
        entries = await _versions_of(request)
        if not entries:
            return _error(404, "Server not found")
        shown = [e for e in entries if include_deleted or not e.deleted]
        shown.sort(key=lambda e: e.sort_key, reverse=True)  # newest first, as the official API
        return JSONResponse({"servers": [e.response for e in shown], "metadata": {"count": len(shown)}})

    async def get_version(request: Request) -> JSONResponse:
        version = request.path_params["version"]
        entries = await _versions_of(request)
        if not entries:
            return _error(404, "Server not found")
        found = [e for e in entries if (e.is_latest if version == "latest" else e.version == version)]
        if not found:
            return _error(404, "Server version not found")
        return JSONResponse(found[0].response)

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        return _error(400, str(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 404)
        if status == 405 or (request.method != "GET" and status == 404):
            return _error(405, READ_ONLY)
        return _error(status, NO_ROUTE if status == 404 else str(getattr(exc, "detail", "")) or "request refused")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        from core.db import dispose_engines

        await dispose_engines()

    return Starlette(
        routes=[
            Route("/v0.1/servers", list_servers, methods=["GET"]),
            Route("/v0.1/servers/{name:path}/versions", list_versions, methods=["GET"]),
            Route("/v0.1/servers/{name:path}/versions/{version}", get_version, methods=["GET"]),
        ],
        exception_handlers={BadRequest: bad_request, HTTPException: http_error},
        lifespan=lifespan,
    )


def _loopback(bind: str) -> bool:
    from ipaddress import ip_address

    bare = bind.strip("[]").lower()
    try:
        return bare == "localhost" or ip_address(bare).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """``host`` without its port (``[::1]:8780`` → ``::1``), lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def guard_hosts(app: Any, bind: str, allowed_hosts: list[str] | None) -> Any:
    """``app`` answering only requests whose Host header names this server (DNS-rebinding protection).

    A loopback bind accepts its loopback names (``127.0.0.1``, ``localhost``, ``[::1]``, any port)
    and ``allowed_hosts`` (``name`` or ``name:port``); any other bind checks only when
    ``allowed_hosts`` is given (the balancer's name), as ``switchboard serve --transport http`` does.
    A refusal is 421 with ``{"error": …}`` naming the Host and the flag that admits it.
    """
    allowed = {h.strip().lower() for h in allowed_hosts or ()}
    for value in allowed:
        if not value or any(ch in value for ch in "/ ?#@"):
            from core.errors import invalid

            raise invalid(
                f"--allowed-host {value!r} is not a Host header value: give NAME or NAME:PORT as clients "
                "reach the registry (e.g. --allowed-host registry.internal:8780), not a URL"
            )
    if not allowed and not _loopback(bind):
        return app

    def admitted(host: str) -> bool:
        name = _host_name(host)
        return host.lower() in allowed or name in allowed or (name in LOOPBACK_NAMES and _loopback(bind))

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not admitted(host):
                shown = host[:100]
                said = (
                    f"this registry does not accept the Host {shown or '(none)'!r} (DNS-rebinding protection). "
                    "Reached through a load balancer or another name? "
                    f"Start it with `--allowed-host {shown or 'NAME:PORT'}`"
                )
                await _error(421, said)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
