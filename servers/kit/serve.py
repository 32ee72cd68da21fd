"""Run one Switchboard server over stdio or Streamable HTTP."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import threading
from collections.abc import Sequence
from typing import Any, Literal

from core.errors import invalid
from core.listen import listen_socket
from core.telemetry import configure_from_env
from servers import catalog
from servers.kit.heap import freeze_startup_heap
from servers.kit.identity import ServerLaunch
from servers.kit.stdio import run_stdio
from servers.kit.telemetry import add_metrics_route

Transport = Literal["stdio", "http"]

# server -> (table with an org_id column, what it holds): used to warn about a tenant without data
DATA_TABLES: dict[str, tuple[str, str]] = {
    "orders": ("ord_order", "orders"),
    "kb": ("knowledge_base", "knowledge bases"),
    "memory": ("memory_item", "memories"),
}


def quiet_fastmcp() -> None:
    """No banner, no rich logs on stdout/stderr noise, no telemetry."""
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_ENABLE_RICH_LOGGING", "false")
    os.environ.setdefault("FASTMCP_LOG_LEVEL", "WARNING")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


async def _tool_annotations(server: Any) -> dict[str, bool]:
    """tool name -> read-only hint."""
    tools = await server.list_tools(run_middleware=False)
    return {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in tools}


def expose_subset(server: Any, name: str, tools: Sequence[str] | None, read_only: bool) -> list[str]:
    """Hide every tool not in ``tools`` (and, with ``read_only``, every tool that changes data).

    Returns the names still exposed. A hidden tool is absent from ``tools/list`` and a call to
    it answers NOT_FOUND. Unknown names are refused so a typo cannot expose nothing silently.
    """
    import asyncio

    if not tools and not read_only:
        return []
    hints = asyncio.run(_tool_annotations(server))
    wanted = set(hints)
    if tools:
        unknown = sorted(set(tools) - wanted)
        if unknown:
            raise invalid(f"{name} has no tool {', '.join(unknown)}: choose from {', '.join(sorted(hints))}")
        wanted = set(tools)
    if read_only:
        wanted = {t for t in wanted if hints[t]}
    if not wanted:
        raise invalid(f"no tool of {name} is left to serve: --tools and --read-only exclude them all")
    hidden = set(hints) - wanted
    if hidden:
        server.disable(names=hidden, components={"tool"})
    return sorted(wanted)


def data_note(name: str, org_id: str) -> str | None:
    """Why a stdio server for ``org_id`` will find nothing, or None (SQLite store only; read-only)."""
    from core.settings import get_settings

    settings = get_settings()
    if settings.database_url:
        return None  # a shared database: not checked at start
    path = settings.home / "switchboard.db"
    if not path.exists():
        return (
            f"no Switchboard data in {settings.home} (SWITCHBOARD_HOME): org {org_id!r} has nothing to serve yet. "
            "Run `make demo`, or point SWITCHBOARD_HOME at the directory the demo printed."
        )
    table, what = DATA_TABLES.get(name, (None, ""))
    if table is None:
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as conn:
            row = conn.execute(f"SELECT 1 FROM {table} WHERE org_id = ? LIMIT 1", (org_id,)).fetchone()
    except sqlite3.Error:
        return None  # not migrated yet, or busy: the first call says more
    if row is None:
        return f"org {org_id!r} has no {what} in {settings.home}: check --org (the demo's tenant is 'demo')"
    return None


def _warn_later(name: str, org_id: str) -> None:
    """Print :func:`data_note` on stderr from a thread, so the handshake is not delayed."""

    def check() -> None:
        note = data_note(name, org_id)
        if note:
            print(f"switchboard serve {name}: warning: {note}", file=sys.stderr, flush=True)

    threading.Thread(target=check, name="switchboard-data-check", daemon=True).start()


def serve(
    name: str,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    path: str = "/mcp",
    launch: ServerLaunch | None = None,
    allowed_hosts: list[str] | None = None,
    tools: Sequence[str] | None = None,
    read_only: bool = False,
    on_listen: Any = None,
) -> None:
    """Serve ``name`` until interrupted. HTTP requires bearer tokens and checks Host/Origin.

    ``on_listen(url)`` is called with the HTTP endpoint's URL once its socket is bound and
    listening (a busy port is a CONFLICT before anything is printed; ``port=0`` takes a free one).
    """
    quiet_fastmcp()
    configure_from_env(f"switchboard-{name}")  # OTEL_* / SWITCHBOARD_METRICS (docs/observability.md)
    if transport == "stdio":
        server = catalog.build(name, launch=launch)
        expose_subset(server, name, tools, read_only)
        if launch is not None and launch.org_id and not launch.trust_meta:
            _warn_later(name, launch.org_id)
        run_stdio(server)  # the event loop's own pipes: no worker thread per message (servers/kit/stdio.py)
        return
    if launch is not None and (launch.org_id or launch.customer_ref):
        raise invalid(
            "--org and --customer apply to stdio only: over HTTP each bearer token names its tenant "
            "(and customer). Create one with `switchboard tokens create --org ORG [--customer REF]`"
        )
    check_http_path(path)
    for allowed in allowed_hosts or ():
        if not _HOST_VALUE.fullmatch(allowed):
            raise invalid(
                f"--allowed-host {allowed!r} is not a Host header value: give NAME or NAME:PORT as clients "
                "reach the server (e.g. --allowed-host lb:9001), not a URL"
            )
    sock = listen_socket(host, port)  # first: a busy port fails before any work, and nothing says "on"
    port = int(sock.getsockname()[1])
    server = catalog.build(name, launch=launch or ServerLaunch(), http_auth=True)
    expose_subset(server, name, tools, read_only)
    from servers.kit.http_errors import host_guard
    from servers.kit.oauth_http import http_oauth

    oauth = http_oauth(name, f"http://{_url_host(host)}:{port}{path}", path)  # None: sbt_ tokens only
    if oauth is not None:
        server.auth = oauth[0]
    add_metrics_route(server)  # GET /metrics when SWITCHBOARD_METRICS=1
    if on_listen is not None:
        on_listen(f"http://{_url_host(host)}:{port}{path}")
    freeze_startup_heap()  # short full collections while serving (servers/kit/heap.py)
    server.run(
        transport="http",
        host=host,
        port=port,
        path=path,
        show_banner=False,
        log_level="warning",
        host_origin_protection=False,  # the same guard, mounted by us to explain its 421/403 (http_errors.py)
        middleware=[host_guard(host, allowed_hosts)] + _http_middleware() + (oauth[1] if oauth else []),
        sockets=[sock],
    )


_HOST_VALUE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9*._-]+)(?::[0-9]{1,5})?")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def check_http_path(path: str) -> None:
    """Refuse an HTTP path that is no plain URL path (a client could not be given its URL)."""
    segments = path.split("/")
    if (
        not path.startswith("/")
        or any(not _PATH_SEGMENT.fullmatch(s) or s in (".", "..") for s in segments[1:-1])
        or (segments[-1] and (not _PATH_SEGMENT.fullmatch(segments[-1]) or segments[-1] in (".", "..")))
    ):
        raise invalid(
            f"--path {path!r} is not a URL path: start it with '/', then segments of letters, digits and "
            "._~- separated by single '/' (no '..', spaces, '?' or '#'), e.g. --path /mcp"
        )


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _http_middleware() -> list[Any]:
    from starlette.middleware import Middleware

    from servers.kit.http_errors import JsonAuthErrors
    from servers.kit.http_refusals import ExplainedRefusals

    return [Middleware(JsonAuthErrors), Middleware(ExplainedRefusals)]
