"""KB citations in tool results: find them, and turn them into ``kb_references`` for a turn."""

from __future__ import annotations

from typing import Any

_REFERENCE_KEYS = ("kb_id", "version", "kb_version", "doc_id", "chunk_id", "title", "score")


def is_citation(value: Any) -> bool:
    return isinstance(value, dict) and "chunk_id" in value and ("kb_id" in value or "doc_id" in value)


def find_citations(data: Any, _depth: int = 0) -> list[dict[str, Any]]:
    """Every citation-shaped dict (``{kb_id, version, chunk_id, doc_id, title, score, text}``) in a result."""
    if _depth > 3:
        return []
    if is_citation(data):
        return [data]
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        for value in data.values():
            found.extend(find_citations(value, _depth + 1))
    elif isinstance(data, list):
        for value in data:
            found.extend(find_citations(value, _depth + 1))
    return found


def to_reference(citation: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a citation: ids, KB version, title and score (no text)."""
    ref = {k: citation[k] for k in _REFERENCE_KEYS if k in citation}
    if "kb_version" in ref and "version" not in ref:
        ref["version"] = ref.pop("kb_version")
    return ref


def dedupe(references: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for ref in references:
        key = (ref.get("kb_id"), ref.get("version"), ref.get("chunk_id"))
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out
