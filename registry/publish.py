"""``registry publish``: capture a server version's tools and pin them, once and for all."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from core.canonical import canonical_json
from core.db import get_engine, write_transaction
from core.errors import conflict, invalid
from registry.capture import Capture, capture_server
from registry.events import REGISTRY_ORG, SERVER_VERSION_PUBLISHED, record_event
from registry.hashing import definition_sha256, hashed_definition, tool_wire_dict, tools_manifest_sha256
from registry.launch import LaunchSpec
from registry.lint import lint_tools
from registry.models import PENDING_REVIEW, ServerVersionInfo
from registry.names import check_actor, check_server_name, check_version
from registry.store import find_version_row, other_servers_tools, version_info
from registry.tables import mcp_server, mcp_server_version, mcp_tool_definition, server_version_status

MAX_DEFINITION_BYTES = 256 * 1024


def _already_published(name: str, version: str, row: Any) -> Exception:
    return conflict(
        f"{name}@{version} is already published (by {row['published_by']} at {row['published_at']:%Y-%m-%d %H:%M}); "
        "published versions are immutable: bump the server's version and publish that"
    )


async def refuse_if_published(name: str, version: str) -> None:
    """CONFLICT when ``name@version`` exists: checked before a server is started for nothing."""
    engine = await get_engine()
    async with engine.connect() as conn:
        existing = await find_version_row(conn, name, version)
    if existing is not None:
        raise _already_published(name, version, existing)


def check_capture(version: str, capture: Capture) -> list[dict[str, Any]]:
    """The pinned definitions of a capture, or a clear refusal."""
    reported = str(capture.server_info.get("version", ""))
    if reported != version:
        raise invalid(
            f"the server reports serverInfo.version {reported or '(none)'!r}, not {version!r}: "
            f"publish the version the server reports, or bump the version in the server itself"
        )
    if not capture.tools:
        raise invalid("the server lists no tools: there is nothing to pin")
    definitions = [hashed_definition(tool_wire_dict(t) if not isinstance(t, dict) else t) for t in capture.tools]
    counts = Counter(d.get("name") for d in definitions)
    duplicates = sorted(str(n) for n, c in counts.items() if c > 1)
    if duplicates:
        raise invalid(
            f"the server lists these tool names more than once: {', '.join(duplicates)}; names must be unique"
        )
    for definition in definitions:
        if not isinstance(definition.get("name"), str) or not definition["name"]:
            raise invalid("the server lists a tool without a name")
        if len(canonical_json_safe(definition)) > MAX_DEFINITION_BYTES:
            raise invalid(f"tool {definition['name']!r} has a definition over {MAX_DEFINITION_BYTES // 1024} KiB")
    return definitions


def canonical_json_safe(definition: dict[str, Any]) -> bytes:
    definition_sha256(definition)  # raises a clear INVALID_ARGUMENT when not canonicalisable
    return canonical_json(definition)


def launch_record(launch: LaunchSpec) -> dict[str, Any]:
    """The launch spec as stored: with the fingerprint of the code it runs, when it can be told."""
    from registry.code import fingerprint

    spec = launch.to_dict()
    code = fingerprint(spec)
    return {**spec, "code": code} if code else spec


def default_actor() -> str:
    """Who is acting when --by is not given: $SWITCHBOARD_ACTOR, else the OS user."""
    import getpass

    try:
        return os.environ.get("SWITCHBOARD_ACTOR") or getpass.getuser()
    except Exception:
        return "unknown"


async def publish_capture(
    name: str,
    version: str,
    launch: LaunchSpec,
    capture: Capture,
    *,
    published_by: str,
    description: str = "",
    owner: str = "",
) -> ServerVersionInfo:
    """Store a captured server version: definitions, hashes, lint findings, status pending_review."""
    check_server_name(name)
    check_version(version)
    published_by = check_actor(published_by)
    definitions = check_capture(version, capture)
    hashes = {d["name"]: definition_sha256(d) for d in definitions}
    manifest_sha = tools_manifest_sha256(hashes.items())
    now = datetime.now(UTC)
    engine = await get_engine()
    try:
        async with write_transaction(engine, immediate=True) as conn:
            existing = await find_version_row(conn, name, version)
            if existing is not None:
                raise _already_published(name, version, existing)
            server_id = (await conn.execute(select(mcp_server.c.id).where(mcp_server.c.name == name))).scalar()
            if server_id is None:
                server_id = str(uuid.uuid4())
                await conn.execute(
                    insert(mcp_server).values(
                        id=server_id, name=name, description=description[:2000], owner=owner[:200], created_at=now
                    )
                )
            findings = lint_tools(definitions, other_tools=await other_servers_tools(conn, name))
            version_id = str(uuid.uuid4())
            await conn.execute(
                insert(mcp_server_version).values(
                    id=version_id,
                    server_id=server_id,
                    version=version,
                    launch_spec=launch_record(launch),
                    server_info=capture.server_info,
                    protocol_version=capture.protocol_version,
                    tools_manifest_sha256=manifest_sha,
                    tool_count=len(definitions),
                    published_by=published_by,
                    published_at=now,
                )
            )
            await conn.execute(
                insert(mcp_tool_definition),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "server_version_id": version_id,
                        "name": d["name"],
                        "definition": d,
                        "definition_sha256": hashes[d["name"]],
                        "lint_findings": [f.to_dict() for f in findings[d["name"]]],
                    }
                    for d in definitions
                ],
            )
            await conn.execute(
                insert(server_version_status).values(
                    server_version_id=version_id,
                    status=PENDING_REVIEW,
                    reason="published",
                    changed_by=published_by,
                    changed_at=now,
                )
            )
    except IntegrityError:
        raise conflict(
            f"{name}@{version} (or its server) was published concurrently: check `registry versions {name}`"
        ) from None
    await record_event(
        SERVER_VERSION_PUBLISHED,
        actor=published_by,
        org_id=REGISTRY_ORG,
        server_name=name,
        server_version=version,
        tools_manifest_sha256=manifest_sha,
        tool_count=len(definitions),
        lint_findings=sum(len(f) for f in findings.values()),
    )
    async with engine.connect() as conn:
        return await version_info(conn, name, version)


async def publish_version(
    name: str,
    version: str,
    launch: LaunchSpec,
    *,
    published_by: str,
    token: str | None = None,
    description: str = "",
    owner: str = "",
    connect_to: Any = None,
) -> ServerVersionInfo:
    """Connect to the server, capture serverInfo and every tool, and publish ``name@version``.

    Refused (nothing written): an existing version, a non-semver version, a serverInfo.version
    that differs, duplicate tool names, no tools. ``token`` is used for this connection only.
    """
    check_server_name(name)
    check_version(version)
    check_actor(published_by)
    await refuse_if_published(name, version)
    capture = await capture_server(launch, token=token, connect_to=connect_to)
    return await publish_capture(
        name, version, launch, capture, published_by=published_by, description=description, owner=owner
    )
