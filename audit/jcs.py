"""A fast RFC 8785 (JCS) encoder for the audit hot path; falls back to ``rfc8785`` when unsure.

Strings, safe integers, booleans, null, lists and string-keyed objects are encoded directly
(C-accelerated string escaping, keys sorted by UTF-16 code units); floats go through
``rfc8785`` one number at a time. Anything else (big integers, non-string keys, other types)
is handed to ``core.canonical.canonical_json`` whole. Tests check the output is byte-identical.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from core.canonical import canonical_json

_MAX_SAFE = 2**53 - 1


class _Unsure(Exception):
    pass


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if type(value) is not int or not -_MAX_SAFE <= value <= _MAX_SAFE:
            raise _Unsure
        return str(value)
    if isinstance(value, float):
        return canonical_json(value).decode("ascii")
    if isinstance(value, dict):
        if not all(type(k) is str for k in value):
            raise _Unsure
        items = sorted(value.items(), key=lambda kv: _utf16(kv[0]))
        return "{" + ",".join(encode_basestring(k) + ":" + _encode(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise _Unsure


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 encoding of ``value`` (same bytes as ``canonical_json``)."""
    try:
        return _encode(value).encode("utf-8")
    except (_Unsure, UnicodeEncodeError):
        return canonical_json(value)


def encode_scalar(value: str | int | bool | None) -> str:
    """The canonical text of one scalar (used for the record hash)."""
    return _encode(value)
