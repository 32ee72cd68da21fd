"""``registry import server.json``: register a server version from the official format.

The file is checked before anything runs: size, JSON, the official schema, and the registry's
lint and instruction checks on its text (hidden characters or orders to the model in the
description refuse it). Then the server is started or reached the way the file says, its tools
are captured and pinned exactly as ``registry publish`` does, and the live definitions are
compared with the hashes the file carries in publisher-provided ``_meta``: a tool that drifted,
vanished or appeared refuses the import and nothing is written.

What a file may make us run is narrow on purpose: a ``packages`` entry is honoured only for the
``switchboard`` PyPI distribution already installed here (nothing is downloaded), as
``switchboard serve <server>`` with the options in :data:`ALLOWED_SERVE_OPTIONS`; a ``remotes``
entry only as Streamable HTTP with a fixed URL.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import conflict, invalid
from registry.capture import capture_server
from registry.hashing import definition_sha256, tools_manifest_sha256
from registry.launch import LaunchSpec
from registry.lint import HIGH, lint_tool
from registry.models import ServerVersionInfo
from registry.names import check_actor, check_server_name, check_version
from registry.serverjson import COMMAND, DISTRIBUTION, HOST_ONLY_FLAGS, published_pins, split_registry_name

# Options of `switchboard serve` a server.json may set (value-taking ones take the next argument).
ALLOWED_SERVE_OPTIONS = {"--tools": True, "--read-only": False, "--customer": True, "--org": True}
# Filled in by the registry (capture) and the host (each call), never by the file.
TENANT_OPTIONS = frozenset({"--org", "--customer"})
TEXT_RULES = frozenset({"unicode-tag", "unicode-bidi", "unicode-invisible", "instruction-phrase"})


@dataclass(slots=True)
class ImportResult:
    """The registered version, where it came from, and whether the file's pins were checked."""

    info: ServerVersionInfo
    registry_name: str
    source: str  # "package" | "remote"
    pins_checked: bool


def check_text(document: dict[str, Any]) -> None:
    """Refuse hidden characters and instructions to the model anywhere in the file's text."""
    from registry.instructions import instructs

    text = {k: v for k, v in document.items() if k not in ("$schema", "_meta")}
    findings = [
        f for f in lint_tool({"name": "server.json", "title": text}) if f.severity == HIGH and f.rule in TEXT_RULES
    ]
    if findings:
        first = findings[0]
        raise invalid(
            f"server.json {first.path.removeprefix('/title')}: {first.rule}: {first.message} ({first.excerpt}); "
            "the registry does not import text that hides characters or gives orders to the model",
            findings=[f.to_dict() for f in findings[:10]],
        )
    for key in ("description", "title"):
        phrase = instructs(str(document.get(key) or ""))
        if phrase:
            raise invalid(f"server.json {key} gives orders to the model ({phrase!r}); the registry does not import it")


def _switchboard_command() -> str:
    """This environment's ``switchboard`` (the distribution already installed; nothing is downloaded)."""
    beside = Path(sys.executable).parent / COMMAND
    return str(beside) if beside.exists() else shutil.which(COMMAND) or COMMAND


def _argument_tokens(argument: dict[str, Any]) -> list[str]:
    value = argument.get("value")
    if value is not None and ("{" in value or "}" in value):
        raise invalid(f"argument {argument.get('name') or value!r} uses a {{variable}}; give a fixed value")
    if argument.get("type") == "positional":
        if value is None:
            raise invalid(f"positional argument {argument.get('valueHint')!r} has no value: give a fixed value")
        return [value]
    name = str(argument.get("name"))
    if name in TENANT_OPTIONS and value is None:
        return []  # the tenant is fixed by the registry while capturing and by the host for each call
    return [name] if value is None else [name, value]


def package_launch(package: dict[str, Any]) -> LaunchSpec:
    """The stdio launch of a ``switchboard`` package entry, or a clear refusal."""
    if package.get("registryType") != "pypi" or package.get("identifier") != DISTRIBUTION:
        raise invalid(
            f"package {package.get('registryType')}:{package.get('identifier')} is not the {DISTRIBUTION} PyPI "
            "distribution; the registry runs only what is installed here (use its remote, or publish it yourself)"
        )
    if package.get("transport", {}).get("type") != "stdio":
        raise invalid("only stdio packages are imported; use the server's remote for HTTP")
    if package.get("runtimeArguments") or package.get("environmentVariables"):
        raise invalid("runtimeArguments and environmentVariables cannot be honoured: the server runs as installed")
    args = [t for a in package.get("packageArguments") or [] for t in _argument_tokens(a)]
    if len(args) < 2 or args[0] != "serve":
        raise invalid(f"the package arguments must start with `serve <server>`, not {' '.join(args[:3])!r}")
    check_server_name(args[1])
    rest = args[2:]
    while rest:
        option = rest.pop(0).split("=", 1)
        takes_value = ALLOWED_SERVE_OPTIONS.get(option[0])
        if takes_value is None:
            raise invalid(
                f"package argument {option[0]!r} is not allowed; a server.json may set only "
                f"{', '.join(sorted(ALLOWED_SERVE_OPTIONS))}"
            )
        if takes_value and len(option) == 1:
            if not rest:
                raise invalid(f"package argument {option[0]} needs a value")
            rest.pop(0)
    return LaunchSpec.stdio([_switchboard_command(), *args, *sorted(HOST_ONLY_FLAGS)])


def remote_launch(remote: dict[str, Any], token_ref: str | None) -> LaunchSpec:
    if remote.get("type") != "streamable-http":
        raise invalid(f"remote type {remote.get('type')!r} is not imported: Switchboard speaks Streamable HTTP")
    url = str(remote.get("url"))
    if "{" in url or remote.get("variables"):
        raise invalid(f"remote URL {url!r} has variables; give a server.json with a fixed URL")
    if problem := _unreachable_host(url):
        raise invalid(f"remote URL {url!r} {problem}; a server.json cannot make Switchboard connect there")
    return LaunchSpec.http(url, token_ref)


def _unreachable_host(url: str) -> str | None:
    """Why a file's remote must not be reached (a link-local address such as the cloud metadata
    service 169.254.169.254, in any spelling getaddrinfo accepts), or None. Names are not resolved."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None  # LaunchSpec.http says what is wrong with it
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # '2852039166', '0xa9fea9fe', '169.254.43518': IPv4 as the C library reads it
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return f"points at the link-local address {address} (a cloud metadata service), not an MCP server"
    if address.is_unspecified or address.is_multicast:
        return f"points at the unspecified or multicast address {address}, not an MCP server"
    return None


def choose_launch(document: dict[str, Any], use: str | None, token_ref: str | None) -> tuple[str, LaunchSpec]:
    """The package entry (preferred) or the remote the import runs, per ``use``."""
    packages, remotes = document.get("packages") or [], document.get("remotes") or []
    if use not in (None, "package", "remote"):
        raise invalid("--use is package or remote")
    if use != "remote" and packages:
        return "package", package_launch(packages[0])
    if use != "package" and remotes:
        return "remote", remote_launch(remotes[0], token_ref)
    wanted = f"a {use} entry" if use else "a packages or remotes entry"
    raise invalid(f"server.json has no {wanted}: there is nothing to start or reach")


def compare_pins(expected: dict[str, Any], live: dict[str, str]) -> None:
    """Refuse, naming each tool, when the live tools differ from the pins in the file."""
    pinned: dict[str, str] = expected["tools"]
    drifted = sorted(n for n in pinned.keys() & live.keys() if pinned[n] != live[n])
    missing = sorted(pinned.keys() - live.keys())
    unpinned = sorted(live.keys() - pinned.keys())
    problems = [f"tool {n!r} drifted (pinned {pinned[n][:12]}…, served {live[n][:12]}…)" for n in drifted]
    problems += [f"tool {n!r} is pinned but no longer listed" for n in missing]
    problems += [f"tool {n!r} is listed but not pinned" for n in unpinned]
    manifest = expected.get("toolsManifestSha256")
    if not problems and manifest and manifest != tools_manifest_sha256(live.items()):
        problems.append("the tools manifest sha256 differs although every tool matches (a forged pin?)")
    if problems:
        raise conflict(
            f"the server does not serve what server.json pins: {'; '.join(problems)}; nothing was imported. "
            "Ask the publisher for the reviewed version, or import without the pins after reviewing the change",
            drifted=drifted,
            missing=missing,
            unpinned=unpinned,
        )


async def import_server_json(
    document: dict[str, Any],
    *,
    published_by: str,
    name: str | None = None,
    use: str | None = None,
    token: str | None = None,
    token_ref: str | None = None,
    connect_to: Any = None,
) -> ImportResult:
    """Register the version a validated server.json describes, capturing and pinning its tools."""
    from registry.publish import check_capture, publish_capture, refuse_if_published

    published_by = check_actor(published_by)
    check_text(document)
    ns, server = split_registry_name(document["name"])
    local = name or server
    try:
        check_server_name(local)
    except Exception:
        raise invalid(
            f"{server!r} (from {document['name']!r}) is not a Switchboard server name: give --name, e.g. --name orders"
        ) from None
    version = check_version(document["version"])
    expected = published_pins(document)
    source, launch = choose_launch(document, use, token_ref)
    await refuse_if_published(local, version)
    capture = await capture_server(launch, token=token, connect_to=connect_to)
    reported = str(capture.server_info.get("version", ""))
    if reported != version:  # check_capture's advice (bump the server's version) is for the server's author
        raise invalid(
            f"the file describes {server} {version}, but what it launches here ({source}) serves "
            f"{reported or 'no version'} (its serverInfo.version): import a server.json of {server} "
            f"{reported or 'the version installed here'}, or import this one where {version} is installed"
        )
    definitions = check_capture(version, capture)
    if expected is not None:
        compare_pins(expected, {d["name"]: definition_sha256(d) for d in definitions})
    from core.pii import mask_text

    description = mask_text(document["description"])  # personal data is never stored as given
    info = await publish_capture(
        local, version, launch, capture, published_by=published_by, description=description, owner=ns
    )
    return ImportResult(info, document["name"], source, expected is not None)
