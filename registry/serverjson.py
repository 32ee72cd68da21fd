"""The official MCP Registry's ``server.json`` (schema 2025-12-11): write one, read one, check one.

A Switchboard server version becomes a ``server.json`` with

- a reverse-DNS ``name``: ``<namespace>/<server>``, namespace ``io.github.switchboard`` unless
  ``--namespace`` or ``$SWITCHBOARD_REGISTRY_NAMESPACE`` says otherwise;
- the exact ``version``;
- ``packages``: the ``switchboard`` PyPI distribution with its arguments (``serve orders`` and a
  required ``--org`` the user fills in), for versions launched with the ``switchboard`` command.
  The host-only ``--trust-meta`` flag is never exported: a client installed from a registry must
  not be trusted with identity in ``_meta``;
- ``remotes``: the Streamable HTTP URL of an HTTP version (or ``--remote-url``);
- ``_meta`` → ``io.modelcontextprotocol.registry/publisher-provided`` → the pins: each tool's
  definition sha256, the tools manifest sha256 and how they are computed, at most 4 KB, so any
  client can detect drift from what was reviewed.

Every document is validated against the vendored official schema before it is written or read.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.canonical import canonical_json
from core.errors import conflict, invalid
from core.inputfile import not_regular_reason
from core.jsonload import loads
from registry.hashing import HASHED_FIELDS
from registry.models import ServerVersionInfo

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "server.schema.json"
PUBLISHER_META = "io.modelcontextprotocol.registry/publisher-provided"
NAMESPACE_ENV = "SWITCHBOARD_REGISTRY_NAMESPACE"
DEFAULT_NAMESPACE = "io.github.switchboard"
DISTRIBUTION = "switchboard"
COMMAND = "switchboard"
MAX_PINS_BYTES = 4096
MAX_FILE_BYTES = 256 * 1024
HASH_SPEC = f"sha256 of RFC 8785 canonical JSON of {{{', '.join(HASHED_FIELDS)}}} (absent or null fields omitted)"
MANIFEST_SPEC = "sha256 of RFC 8785 canonical JSON of {tool name: definition sha256}"
# Flags of `switchboard serve` that only the Switchboard host may pass to a child it spawned.
HOST_ONLY_FLAGS = frozenset({"--trust-meta"})
ORG_ARGUMENT = {
    "type": "named",
    "name": "--org",
    "description": "The tenant (org) this server serves; stdio only.",
    "isRequired": True,
    "format": "string",
}
_NAMESPACE = re.compile(r"^[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+\Z")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The vendored official server.json schema (2025-12-11)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(schema())


def schema_errors(document: Any) -> list[str]:
    """Every place ``document`` breaks the official schema, as ``/json/pointer: message`` (sorted)."""
    errors = []
    for error in _validator().iter_errors(document):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        errors.append(f"{where}: {error.message[:200]}")
    return sorted(errors)


def check_server_json(document: Any) -> dict[str, Any]:
    """``document`` if it is a valid server.json, else INVALID_ARGUMENT listing the first problems."""
    errors = schema_errors(document)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        raise invalid(f"not a valid server.json (schema 2025-12-11): {shown}", errors=errors[:20])
    return document


def namespace(value: str | None = None) -> str:
    """The reverse-DNS namespace names are exported under: the option, the environment, or the default."""
    chosen = value or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
    if not _NAMESPACE.match(chosen) or len(chosen) > 160:
        raise invalid(
            f"namespace {chosen!r} is not reverse-DNS: use e.g. io.github.your-org or com.example "
            f"(--namespace or ${NAMESPACE_ENV})"
        )
    return chosen


def registry_name(server: str, ns: str | None = None) -> str:
    """``orders`` → ``io.github.switchboard/orders``."""
    return f"{namespace(ns)}/{server}"


def split_registry_name(name: str) -> tuple[str, str]:
    """``io.github.switchboard/orders`` → (``io.github.switchboard``, ``orders``)."""
    ns, sep, server = name.partition("/")
    if not sep or "/" in server:
        raise invalid(f"{name!r} is not a reverse-DNS server name such as io.github.switchboard/orders")
    return ns, server


def distribution_version() -> str:
    """The installed ``switchboard`` distribution's version (what ``uvx switchboard`` would run)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a checkout without an install
        return "0.0.0"


def pins(info: ServerVersionInfo) -> dict[str, Any]:
    """The publisher-provided pins of a version; refused when over 4 KB of canonical JSON."""
    body = {
        "tool": "switchboard",
        "version": distribution_version(),
        "hashAlgorithm": HASH_SPEC,
        "manifestAlgorithm": MANIFEST_SPEC,
        "toolsManifestSha256": info.tools_manifest_sha256,
        "tools": {t.name: t.definition_sha256 for t in sorted(info.tools, key=lambda t: t.name)},
    }
    size = len(canonical_json(body))
    if size > MAX_PINS_BYTES:
        raise invalid(
            f"{info.ref}: the tool pins take {size} bytes, over the {MAX_PINS_BYTES}-byte limit for server.json "
            f"_meta ({len(info.tools)} tools); split the server or shorten tool names"
        )
    return body


def _uses_switchboard(launch: dict[str, Any]) -> bool:
    return launch.get("transport") == "stdio" and Path(str(launch.get("command") or "")).name == COMMAND


def package_arguments(args: list[str]) -> list[dict[str, Any]]:
    """The stored ``switchboard`` arguments as server.json arguments: host-only flags dropped,
    ``--org`` asked of the user unless fixed."""
    kept = [a for a in args if a not in HOST_ONLY_FLAGS]
    out: list[dict[str, Any]] = [{"type": "positional", "value": a} for a in kept]
    if kept[:1] == ["serve"] and not any(a == "--org" or a.startswith("--org=") for a in kept):
        out.append(dict(ORG_ARGUMENT))
    return out


def _package(info: ServerVersionInfo) -> dict[str, Any]:
    return {
        "registryType": "pypi",
        "registryBaseUrl": "https://pypi.org",
        "identifier": DISTRIBUTION,
        "version": distribution_version(),
        "runtimeHint": "uvx",
        "transport": {"type": "stdio"},
        "packageArguments": package_arguments(list(info.launch.get("args") or [])),
    }


def _remote(url: str, token_ref: str | None) -> dict[str, Any]:
    remote: dict[str, Any] = {"type": "streamable-http", "url": url}
    if token_ref:
        remote["headers"] = [
            {
                "name": "Authorization",
                "description": "Bearer token for this server (`switchboard tokens create`).",
                "value": "Bearer {token}",
                "isRequired": True,
                "isSecret": True,
                "variables": {"token": {"description": "The bearer token", "isRequired": True, "isSecret": True}},
            }
        ]
    return remote


def short_description(text: str, server: str) -> str:
    """server.json allows 1-100 characters: the first line of ours, shortened with an ellipsis."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = line or f"Switchboard MCP server {server}"
    return line if len(line) <= 100 else line[:99] + "…"


def build_server_json(
    info: ServerVersionInfo,
    description: str,
    *,
    ns: str | None = None,
    remote_url: str | None = None,
    require_launch: bool = True,
) -> dict[str, Any]:
    """The server.json of one server version (validated against the official schema).

    ``require_launch``: refuse a version that has neither a package nor a remote to offer (an
    export); the read API lists such versions with their pins only.
    """
    launch = info.launch
    document: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "name": registry_name(info.server, ns),
        "description": short_description(description, info.server),
        "version": info.version,
    }
    title = info.server_info.get("title") or info.server_info.get("name")
    if isinstance(title, str) and 0 < len(title) <= 100:
        document["title"] = title
    if _uses_switchboard(launch):
        document["packages"] = [_package(info)]
    remotes = []
    if remote_url:
        from registry.launch import LaunchSpec

        remotes.append(_remote(LaunchSpec.http(remote_url).url or "", launch.get("token_ref")))
    elif launch.get("transport") == "http":
        remotes.append(_remote(str(launch["url"]), launch.get("token_ref")))
    if remotes:
        document["remotes"] = remotes
    if require_launch and "packages" not in document and "remotes" not in document:
        raise invalid(
            f"{info.ref} is launched with `{launch.get('command')}`, not the switchboard package, and has no URL: "
            "give --remote-url https://…/mcp so clients can reach it"
        )
    document["_meta"] = {PUBLISHER_META: pins(info)}
    return check_server_json(document)


def parse_server_json(data: bytes, *, source: str = "server.json") -> dict[str, Any]:
    """Bytes of a server.json → the validated document (size, encoding, JSON and schema checked)."""
    if len(data) > MAX_FILE_BYTES:
        raise invalid(f"{source} is {len(data)} bytes; a server.json is at most {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (a file saved by Notepad) is no content
    except UnicodeDecodeError:
        raise invalid(f"{source} is not UTF-8 text") from None
    document = loads(text, source=source)  # not JSON, nested too deeply, NaN or a repeated key: refused
    return check_server_json(document)


def read_server_json(path: Path) -> dict[str, Any]:
    """A server.json file from disk, checked like :func:`parse_server_json`."""
    reason = not_regular_reason(path)
    if reason is not None and not reason.startswith("no such file"):  # a FIFO would block the read forever
        raise invalid(f"{path}: {reason}; give a server.json file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise invalid(f"{path} is {size} bytes; a server.json is at most {MAX_FILE_BYTES // 1024} KiB")
        data = path.read_bytes()
    except OSError as exc:
        raise invalid(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_server_json(data, source=str(path))


def published_pins(document: dict[str, Any]) -> dict[str, Any] | None:
    """The tool pins a server.json carries in publisher-provided ``_meta``, or None."""
    meta = (document.get("_meta") or {}).get(PUBLISHER_META)
    if not isinstance(meta, dict) or "tools" not in meta:
        return None
    tools = meta.get("tools")
    if not isinstance(tools, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in tools.items()
    ):
        raise invalid(f"_meta.{PUBLISHER_META}.tools must map each tool name to a lowercase hex sha256")
    manifest = meta.get("toolsManifestSha256")
    if manifest is not None and not (isinstance(manifest, str) and re.fullmatch(r"[0-9a-f]{64}", manifest)):
        raise invalid(f"_meta.{PUBLISHER_META}.toolsManifestSha256 must be a lowercase hex sha256")
    return {"tools": tools, "toolsManifestSha256": manifest}


async def export_server_json(ref: str, *, ns: str | None = None, remote_url: str | None = None) -> dict[str, Any]:
    """The server.json of ``name@version`` from the registry (rejected and revoked versions refused)."""
    from sqlalchemy import select

    from core.db import get_engine
    from registry.models import REJECTED, REVOKED
    from registry.names import parse_server_ref
    from registry.store import version_info
    from registry.tables import mcp_server

    name, version = parse_server_ref(ref)
    engine = await get_engine()
    async with engine.connect() as conn:
        info = await version_info(conn, name, version)
        description = (await conn.execute(select(mcp_server.c.description).where(mcp_server.c.name == name))).scalar()
    if info.status in (REJECTED, REVOKED):
        raise conflict(f"{info.ref} is {info.status}: it is not exported (publish and review a new version)")
    return build_server_json(info, description or "", ns=ns, remote_url=remote_url)
