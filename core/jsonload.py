"""JSON a user hands us (an import file, a query file, an export to verify), parsed without surprises.

Every reader of user-supplied JSON or JSONL goes through :func:`loads` (one document or one
line) or :func:`read_json_file` (a whole file), which refuse with INVALID_ARGUMENT, naming the
file and line, what ``json.loads`` lets through or crashes on:

* nesting deeper than :data:`MAX_DEPTH` objects/lists (``json.loads`` raises RecursionError
  near 1000 levels, and a deep value then crashes whatever walks it);
* ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON;
* a key repeated in one object (``json.loads`` keeps the last silently: a forged second
  ``"actor"`` or ``"customer"`` would win over the first a reader sees);
* integers longer than Python's digit limit;
* a ``\\ud800``-style escape of half a surrogate pair, which is JSON syntax but no character:
  Python keeps it in the string and the first write of it (UTF-8, SQLite) crashes.

The error is a :class:`JSONInputError`, a :class:`SwitchboardError` that is also a
``ValueError``, so a reader that reports a bad line (``audit verify --file``) keeps doing so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ErrorCode, SwitchboardError
from core.inputfile import require_regular_file

MAX_DEPTH = 64


class JSONInputError(SwitchboardError, ValueError):
    """Refused JSON input; ``reason`` is the message without the file and line, ``kind`` one of
    "syntax" (not JSON at all), "depth", "constant" (NaN/Infinity), "duplicate_key" or "surrogate"."""

    def __init__(self, message: str, reason: str, kind: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, message)
        self.reason = reason
        self.kind = kind


class _Refused(Exception):
    def __init__(self, reason: str, kind: str) -> None:
        self.reason = reason
        self.kind = kind


def _no_constant(value: str) -> Any:
    raise _Refused(f"contains {value}, which is not JSON", "constant")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        duplicate = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _Refused(f"repeats the key {duplicate[:80]!r}: a reader could see either value", "duplicate_key")
    return out


def _too_deep(value: Any, limit: int) -> bool:
    """True when ``value`` holds objects/lists more than ``limit`` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _depth_reason(limit: int) -> str:
    return f"nests too deeply: more than {limit} levels of objects or lists inside each other"


def loads(
    text: str | bytes, *, source: str, line: int | None = None, max_depth: int = MAX_DEPTH, hint: str = ""
) -> Any:
    """``text`` parsed as one JSON value; anything refused raises :class:`JSONInputError` whose
    message names ``source`` (a file name) and ``line`` (for JSONL), followed by ``hint``."""
    where = f"{source}:{line}:" if line is not None else source
    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except _Refused as refused:
        reason, kind = refused.reason, refused.kind
    except RecursionError:
        reason, kind = _depth_reason(max_depth), "depth"
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        reason, kind = f"is not JSON: {exc.msg} at {at}", "syntax"
    except ValueError as exc:  # an integer past Python's digit limit; bytes that are not UTF-8
        reason, kind = f"is not JSON: {str(exc).split(';')[0]}", "syntax"
    else:
        # A value can only be deeper than its count of opening brackets: most lines skip the walk.
        if isinstance(value, (dict, list)) and _opening_brackets(text) > max_depth and _too_deep(value, max_depth):
            reason, kind = _depth_reason(max_depth), "depth"
        elif _escapes_a_surrogate(text) and _has_lone_surrogate(value):
            reason, kind = "holds a lone surrogate (an escape such as \\ud800 without its pair): not text", "surrogate"
        else:
            return value
    raise JSONInputError(f"{where} {reason}{hint}", reason, kind)


def _escapes_a_surrogate(text: str | bytes) -> bool:
    """Whether ``text`` may escape a surrogate (``\\ud800``-``\\udfff``): most lines skip the walk."""
    if isinstance(text, bytes):
        return b"\\ud" in text or b"\\uD" in text
    return "\\ud" in text or "\\uD" in text


def _has_lone_surrogate(value: Any) -> bool:
    """True when a string (or key) in ``value`` holds half a surrogate pair (iterative)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _opening_brackets(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"{") + text.count(b"[")
    return text.count("{") + text.count("[")


def read_json_file(path: Path, *, what: str = "file", max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> Any:
    """The JSON document in the regular file ``path`` (UTF-8, a BOM allowed), checked as :func:`loads`."""
    require_regular_file(path, what=what)
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise SwitchboardError(
                ErrorCode.INVALID_ARGUMENT, f"{path} is larger than {max_bytes // 1024} KiB: not a {what}"
            )
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SwitchboardError(ErrorCode.INVALID_ARGUMENT, f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise SwitchboardError(ErrorCode.INVALID_ARGUMENT, f"cannot read {path}: {exc.strerror or exc}") from None
    return loads(text, source=str(path), max_depth=max_depth)
