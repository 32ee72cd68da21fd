"""JSON Schema checks against pinned definitions (Draft 2020-12 unless a schema says otherwise)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from core.canonical import canonical_json

MAX_ERRORS = 5

# Invisible / bidi-control characters stripped from tool results before the model sees them.
_STRIP_CATEGORIES = {"Cf", "Co", "Cn"}
_KEEP = {"\u200d"}  # zero-width joiner: part of emoji sequences

# Pinned schemas live as long as their agent version: validators are cached by object identity
# (each entry keeps its schema alive, so an id cannot be reused while it is cached).
_BY_ID: dict[int, tuple[dict[str, Any], Any]] = {}
_BY_ID_LIMIT = 2048


@lru_cache(maxsize=512)
def _validator_for_json(schema_json: bytes) -> Any:
    import json

    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator(schema: dict[str, Any]) -> Any:
    """A compiled, format-checking validator for ``schema`` (cached)."""
    entry = _BY_ID.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    compiled = _validator_for_json(canonical_json(schema))
    if len(_BY_ID) >= _BY_ID_LIMIT:
        _BY_ID.clear()
    _BY_ID[id(schema)] = (schema, compiled)
    return compiled


def schema_errors(schema: dict[str, Any] | None, instance: Any) -> list[str]:
    """Readable validation errors (at most five); empty when ``instance`` is valid."""
    if not schema:
        return []
    try:
        compiled = validator(schema)
    except Exception as exc:  # a broken pinned schema refuses everything
        return [f"the pinned schema is not usable: {type(exc).__name__}"]
    if compiled.is_valid(instance):
        return []
    errors = sorted(compiled.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:MAX_ERRORS]:
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where}: {err.message}" if where else err.message)
    return out


# Characters known to be visible (printable ASCII and whitespace, Latin-1 but the soft hyphen,
# general punctuation, CJK punctuation, Hangul syllables and compatibility jamo, full-width
# forms): a string made only of them is returned as it is, without a per-character lookup.
_VISIBLE = re.compile(
    "[\t\n\r\x20-\x7e\xa0-\xac\xae-\xff\u2010-\u2027\u2030-\u205e\u3000-\u303f\u3131-\u318e\uac00-\ud7a3\uff01-\uff60]*"
)


def strip_invisible(value: Any) -> Any:
    """A copy of ``value`` with invisible and bidi-control characters removed from every string."""
    if isinstance(value, str):
        if value.isascii() or _VISIBLE.fullmatch(value):
            return value
        return "".join(ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in _STRIP_CATEGORIES)
    if isinstance(value, dict):
        return {strip_invisible(k): strip_invisible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_invisible(v) for v in value]
    return value
