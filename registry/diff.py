"""``registry diff``: what changed between two versions of a server, tool by tool."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from core.canonical import canonical_json
from core.db import get_engine
from registry.hashing import HASHED_FIELDS
from registry.lint import json_pointer
from registry.names import check_server_name, check_version
from registry.store import version_info

_MISSING = object()


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One difference inside a schema, at a JSON pointer."""

    op: str  # added | removed | changed
    path: str
    old: Any = None
    new: Any = None


@dataclass(slots=True)
class ToolChange:
    """A tool present in both versions whose definition hash differs."""

    name: str
    fields: list[str]
    old_sha256: str
    new_sha256: str
    description_diff: list[str] = field(default_factory=list)
    schema_changes: dict[str, list[SchemaChange]] = field(default_factory=dict)
    other_changes: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class VersionDiff:
    server: str
    old_version: str
    new_version: str
    added: list[str]
    removed: list[str]
    changed: list[ToolChange]
    unchanged: list[str]


def json_diff(old: Any, new: Any, parts: tuple[str, ...] = ()) -> list[SchemaChange]:
    """Structural differences between two JSON values, as JSON-pointer changes."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[SchemaChange] = []
        for key in sorted(set(old) | set(new)):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            path = (*parts, str(key))
            if a is _MISSING:
                changes.append(SchemaChange("added", json_pointer(path), None, b))
            elif b is _MISSING:
                changes.append(SchemaChange("removed", json_pointer(path), a, None))
            else:
                changes.extend(json_diff(a, b, path))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes.extend(json_diff(a, b, (*parts, str(index))))
        return changes
    if type(old) is not type(new) or old != new:
        return [SchemaChange("changed", json_pointer(parts) or "/", old, new)]
    return []


def text_diff(old: str, new: str, old_label: str, new_label: str) -> list[str]:
    """A unified diff of two texts, line by line."""
    return list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm="", n=2)
    )


def diff_tool(name: str, old: dict[str, Any], new: dict[str, Any], labels: tuple[str, str]) -> ToolChange | None:
    """The changed fields of one tool, or None when its definitions are equal."""
    changed_fields = [f for f in HASHED_FIELDS if canonical_json(old.get(f)) != canonical_json(new.get(f))]
    if not changed_fields:
        return None
    change = ToolChange(name, changed_fields, "", "")
    for f in changed_fields:
        if f == "description":
            change.description_diff = text_diff(old.get(f) or "", new.get(f) or "", *labels)
        elif f in ("inputSchema", "outputSchema"):
            change.schema_changes[f] = json_diff(old.get(f), new.get(f))
        else:
            change.other_changes[f] = {"old": old.get(f), "new": new.get(f)}
    return change


async def diff_versions(name: str, old_version: str, new_version: str) -> VersionDiff:
    """Tools added, removed and changed between ``name@old_version`` and ``name@new_version``."""
    check_server_name(name)
    check_version(old_version)
    check_version(new_version)
    engine = await get_engine()
    async with engine.connect() as conn:
        old = await version_info(conn, name, old_version)
        new = await version_info(conn, name, new_version)
    old_tools = {t.name: t for t in old.tools}
    new_tools = {t.name: t for t in new.tools}
    labels = (f"{name}@{old_version}", f"{name}@{new_version}")
    changed, unchanged = [], []
    for tool in sorted(set(old_tools) & set(new_tools)):
        a, b = old_tools[tool], new_tools[tool]
        if a.definition_sha256 == b.definition_sha256:
            unchanged.append(tool)
            continue
        change = diff_tool(tool, a.definition, b.definition, labels)
        if change is None:  # same fields, different bytes: e.g. a number written differently
            change = ToolChange(tool, ["(canonical form)"], "", "")
        change.old_sha256, change.new_sha256 = a.definition_sha256, b.definition_sha256
        changed.append(change)
    return VersionDiff(
        server=name,
        old_version=old_version,
        new_version=new_version,
        added=sorted(set(new_tools) - set(old_tools)),
        removed=sorted(set(old_tools) - set(new_tools)),
        changed=changed,
        unchanged=unchanged,
    )


def short_json(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
