"""Tool definition digests: the single source of truth for pins (DESIGN principle 3).

A tool's definition is the object of its six model-visible wire fields, with MCP's camelCase
names: ``name, title, description, inputSchema, outputSchema, annotations``. A field that is
absent or null is omitted (absent and null hash the same). Everything else a server sends
(``_meta``, ``icons``, ``execution``) is not part of the definition. The digest is the sha256
of the RFC 8785 (JCS) canonical JSON of that object, with no Unicode normalisation: NFC and NFD
text hash differently, on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.canonical import canonical_json, canonical_sha256, sha256_hex
from core.errors import invalid

if TYPE_CHECKING:
    import mcp_types

HASHED_FIELDS: tuple[str, ...] = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


def tool_wire_dict(tool: mcp_types.Tool) -> dict[str, Any]:
    """A live ``mcp_types.Tool`` as its wire dict (camelCase, None fields dropped)."""
    return tool.model_dump(by_alias=True, exclude_none=True, mode="json")


def hashed_definition(tool: Mapping[str, Any] | mcp_types.Tool) -> dict[str, Any]:
    """The part of a tool definition that is pinned: the hashed fields that are present."""
    wire = tool if isinstance(tool, Mapping) else tool_wire_dict(tool)
    return {field: wire[field] for field in HASHED_FIELDS if wire.get(field) is not None}


def definition_sha256(tool: Mapping[str, Any] | mcp_types.Tool) -> str:
    """sha256 (hex) of the canonical JSON of the tool's pinned fields.

    Accepts a wire dict (extra keys such as ``_meta`` are ignored) or an ``mcp_types.Tool``.
    Raises INVALID_ARGUMENT when the definition is not representable in canonical JSON
    (e.g. an integer beyond ±2^53 or a lone surrogate).
    """
    definition = hashed_definition(tool)
    try:
        return sha256_hex(canonical_json(definition))
    except Exception as exc:  # rfc8785 raises its own error types
        name = definition.get("name", "?")
        raise invalid(f"tool {name!r} cannot be canonicalised (RFC 8785): {type(exc).__name__}: {exc}") from None


def tools_manifest_sha256(tools: Iterable[tuple[str, str]]) -> str:
    """sha256 of the canonical JSON object mapping each tool name to its definition_sha256."""
    return canonical_sha256(dict(tools))
