"""Connections to the pinned MCP server versions of an agent version, pooled and verified.

For each pinned server version the host connects (stdio spawn with an explicit environment, or
Streamable HTTP with a bearer token), checks the handshake's serverInfo against what the registry
recorded at publish, lists the tools and hashes each live definition with the registry's own
function. A tool whose live hash differs from its pin is disabled (and audited as
``tool_definition_drift``, hashes only); a revoked server version is refused. A connection that
dies is reconnected on demand with exponential backoff and verified again; one failing server
never takes the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import telemetry
from core.errors import SwitchboardError, unavailable
from core.settings import get_settings
from host import HOST_NAME, HOST_VERSION

log = logging.getLogger("switchboard.host.connections")

_QUIET_ENV = {
    "ANONYMIZED_TELEMETRY": "False",
    "FASTMCP_SHOW_SERVER_BANNER": "false",
    "FASTMCP_ENABLE_RICH_LOGGING": "false",
    "FASTMCP_LOG_LEVEL": "WARNING",
}
ANY_VERSION = "*"  # accept whatever version the server reports (the conformance client only)
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 15.0
CONNECT_TIMEOUT_S = 30.0
MAX_TOOL_PAGES = 100

# (pin, env) -> what fastmcp.Client accepts: a transport, a URL or an in-process server (tests)
Connector = Callable[["ServerPin", dict[str, str]], Any]


@dataclass(frozen=True, slots=True)
class ServerPin:
    """A pinned server version: identity, launch spec, and what its handshake said at publish."""

    name: str
    version: str
    server_version_id: str
    launch: dict[str, Any]
    expected_server_name: str | None = None
    status: str = "approved"


@dataclass(slots=True)
class Drift:
    """A tool whose live definition differs from its pin (or that the server no longer lists)."""

    server_name: str
    server_version: str
    tool_name: str
    pinned_sha256: str
    observed_sha256: str | None  # None: the tool is missing


def server_env(org_id: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The explicit environment of a spawned server: data location, tenant, trust in the host's _meta."""
    settings = get_settings()
    env = dict(_QUIET_ENV)
    env.update({k: v for k, v in os.environ.items() if k.startswith("SWITCHBOARD_")})
    env["SWITCHBOARD_HOME"] = str(settings.home)
    env["SWITCHBOARD_DATABASE_URL"] = settings.resolved_database_url
    env["SWITCHBOARD_ORG"] = org_id
    env["SWITCHBOARD_TRUST_META"] = "true"
    env.pop("SWITCHBOARD_CUSTOMER", None)  # the customer travels per call in _meta
    env.update(telemetry.child_env())  # OTEL_* (not the host's service name): the child exports too
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")])
    env.update(extra or {})
    return env


def default_connector(pin: ServerPin, env: dict[str, str]) -> Any:
    """A stdio or Streamable HTTP transport for the pin's launch spec."""
    from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

    launch = pin.launch
    if launch.get("transport") == "http":
        token_ref = launch.get("token_ref")
        token = os.environ.get(token_ref) if token_ref else None
        if token_ref and not token:
            raise unavailable(f"{pin.name}@{pin.version}: set ${token_ref} to the bearer token for {launch.get('url')}")
        return StreamableHttpTransport(launch["url"], auth=token or None)
    command = launch.get("command") or ""
    if os.sep not in command:
        command = shutil.which(command, path=env.get("PATH")) or command
    return StdioTransport(
        command,
        list(launch.get("args") or []),
        env=env,
        cwd=launch.get("cwd"),
        keep_alive=False,
        log_file=server_log_path(pin),
    )


def server_log_path(pin: ServerPin) -> Path:
    """Where a spawned server's stderr goes: ``$SWITCHBOARD_HOME/logs/<name>-<version>.log``."""
    logs = get_settings().ensure_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{pin.name}-{pin.version}.log"


class ServerConnection:
    """One pinned server version: connect, verify, call, reconnect with backoff."""

    def __init__(self, pin: ServerPin, *, org_id: str, connector: Connector | None = None) -> None:
        self.pin = pin
        self.org_id = org_id
        self._connector = connector or default_connector
        self.client: Any = None
        self.state = "new"  # new | ready | dead | revoked | mismatch | changed (code differs from publish)
        self.error: str | None = None
        self.live_hashes: dict[str, str] = {}
        self.server_info: dict[str, Any] = {}
        self.protocol_version: str | None = None
        self.generation = 0
        self._failures = 0
        self._next_attempt = 0.0
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def label(self) -> str:
        return f"{self.pin.name}@{self.pin.version}"

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.client is not None

    async def connect(self) -> None:
        """Connect and verify once; raises UNAVAILABLE (and records why) on failure."""
        from fastmcp import Client
        from mcp_types import Implementation

        from registry.code import code_change, code_changed_message
        from registry.hashing import definition_sha256

        if self.pin.status == "revoked":
            self.state, self.error = "revoked", "server version revoked"
            raise unavailable(f"{self.label} is revoked: the host refuses it")
        changed = code_change(self.pin.launch)  # never start code other than what was published
        if changed:
            self.state, self.error = "changed", code_changed_message(self.pin.name, self.pin.version, changed)
            raise unavailable(self.error)
        target = self._connector(self.pin, server_env(self.org_id))
        client = Client(
            target,
            client_info=Implementation(name=HOST_NAME, version=HOST_VERSION),
            timeout=CONNECT_TIMEOUT_S,
            init_timeout=CONNECT_TIMEOUT_S,
        )
        try:
            await client.__aenter__()
        except Exception as exc:
            raise unavailable(f"{self.label}: could not connect: {type(exc).__name__}: {str(exc)[:200]}") from None
        try:
            info = client.server_info
            info_dict = info.model_dump(by_alias=True, exclude_none=True, mode="json") if info else {}
            problem = self._check_info(info_dict)
            if problem:
                self.state = "mismatch"
                raise unavailable(f"{self.label}: {problem}")
            hashes: dict[str, str] = {}
            cursor: str | None = None
            for _ in range(MAX_TOOL_PAGES):
                page = await client.list_tools_mcp(cursor=cursor)
                for tool in page.tools:
                    hashes[tool.name] = definition_sha256(tool)
                cursor = page.next_cursor
                if not cursor:
                    break
        except SwitchboardError:
            self._close_later(client)
            raise
        except Exception as exc:
            self._close_later(client)
            raise unavailable(f"{self.label}: listing tools failed: {type(exc).__name__}") from None
        install_fast_output_validators(client)
        old = self.client
        self.client = client
        self.server_info = info_dict
        self.protocol_version = client.protocol_version
        self.live_hashes = hashes
        self.state, self.error = "ready", None
        self.generation += 1
        self._failures = 0
        if old is not None:
            self._close_later(old)

    def _check_info(self, info: dict[str, Any]) -> str | None:
        version = info.get("version")
        if self.pin.version != ANY_VERSION and version != self.pin.version:
            return f"the server says it is version {version!r}, but {self.pin.version} is pinned"
        expected = self.pin.expected_server_name
        if expected and info.get("name") != expected:
            return f"the server calls itself {info.get('name')!r}, but {expected!r} was published"
        return None

    async def ensure_ready(self, timeout_s: float) -> bool:
        """Connected and verified, reconnecting if needed (at most once per backoff window)."""
        if self.ready:
            return True
        if self.state in ("revoked", "mismatch"):
            return False
        async with self._lock:
            if self.ready:
                return True
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                self.error = f"reconnecting in {wait:.1f} s"
                return False
            try:
                await asyncio.wait_for(self.connect(), timeout=max(timeout_s, 0.1))
                log.info("%s connected (generation %d)", self.label, self.generation)
                return True
            except (TimeoutError, SwitchboardError, Exception) as exc:
                self._failures += 1
                delay = min(BACKOFF_START_S * (2 ** (self._failures - 1)), BACKOFF_MAX_S)
                self._next_attempt = time.monotonic() + delay
                if self.state not in ("revoked", "mismatch", "changed"):  # changed: retried, restored code runs
                    self.state = "dead"
                self.error = getattr(exc, "message", None) or f"{type(exc).__name__}: connect timed out"
                log.warning("%s unavailable: %s (next attempt in %.2f s)", self.label, self.error, delay)
                return False

    def mark_dead(self, reason: str) -> None:
        """The connection broke (closed, crashed): drop it; the next call reconnects."""
        if self.state == "ready":
            self.state, self.error = "dead", reason
            if self.client is not None:
                self._close_later(self.client)
                self.client = None

    async def call(self, tool_name: str, arguments: dict[str, Any], *, meta: dict[str, Any], timeout_s: float) -> Any:
        """The raw ``CallToolResult``; raises what the client raises."""
        client = self.client
        if client is None:
            raise unavailable(f"{self.label} is not connected")
        if telemetry.ON:  # a CLIENT span, its trace context carried in _meta (host/telemetry.py)
            from host.telemetry import traced_mcp_call

            send = lambda m: client.call_tool_mcp(tool_name, arguments, timeout=timeout_s, meta=m)  # noqa: E731
            return await traced_mcp_call(self, tool_name, meta, send)
        return await client.call_tool_mcp(tool_name, arguments, timeout=timeout_s, meta=meta)

    def _close_later(self, client: Any) -> None:
        async def _close() -> None:
            with contextlib.suppress(Exception):  # a dead client may fail to close; nothing to do
                await asyncio.wait_for(client.__aexit__(None, None, None), timeout=5)

        task = asyncio.get_running_loop().create_task(_close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        client, self.client = self.client, None
        if self.state == "ready":
            self.state = "new"
        if client is not None:
            self._close_later(client)
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)


class FastOutputValidator:
    """The MCP client's output-schema check with a compiled fast path (``jsonschema-rs``).

    The client SDK checks every structured result with ``best_match(validator.iter_errors(...))``;
    with ``jsonschema`` that walk costs ~0.6 ms for an order. Here a result the compiled
    validator accepts yields no errors at once; anything else is checked by ``jsonschema``
    exactly as the SDK would, so a rejected result gets the same error message.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema_rs
        from jsonschema.validators import validator_for
        from referencing import Registry

        cls = validator_for(schema)
        cls.check_schema(schema)  # what the SDK does before it builds its own
        self._slow = cls(schema, registry=Registry())  # the SDK's: no remote references, formats not asserted
        self._fast = jsonschema_rs.validator_for(schema, offline=True, validate_formats=False)

    def iter_errors(self, instance: Any) -> Any:
        if self._fast.is_valid(instance):
            return iter(())
        return self._slow.iter_errors(instance)


def install_fast_output_validators(client: Any) -> int:
    """Give the client's session a :class:`FastOutputValidator` per listed output schema.

    Optional: without ``jsonschema-rs`` installed, or with a client that keeps no validator
    cache, nothing changes and the SDK validates as usual. A schema either library refuses is
    left to the SDK. The SDK drops a tool's validator itself when a new listing changes its schema.
    """
    try:
        import jsonschema_rs  # noqa: F401
    except ImportError:
        return 0
    session = getattr(client, "session", None)
    schemas = getattr(session, "_tool_output_schemas", None)
    validators = getattr(session, "_tool_output_validators", None)
    if not isinstance(schemas, dict) or not isinstance(validators, dict):
        return 0
    installed = 0
    for name, schema in schemas.items():
        if not isinstance(schema, dict) or name in validators:
            continue
        try:
            validators[name] = FastOutputValidator(schema)
        except Exception:  # an invalid schema: the SDK reports it on the first call
            continue
        installed += 1
    return installed


@dataclass(slots=True)
class PoolStatus:
    """What an operator sees about an agent version's connections."""

    servers: list[dict[str, Any]] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
