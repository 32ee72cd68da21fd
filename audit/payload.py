"""Redact and canonicalise one audit payload in a single pass over the value.

The general path (:func:`audit.prepare._payload` without this module) serialises a payload up to
four times: a compact JSON text to size it, a regular-expression pre-screen of that whole text,
a second text and pre-screen inside :func:`core.redaction.redact`, then the RFC 8785 text. A tool result
such as an order (a 12-digit tracking number passes the pre-screen) spent most of the audit's time
there. :func:`redact_canonical` walks the value once: short strings that cannot hold personal data
(:func:`core.pii.too_short_for_pii`: fewer than 9 characters with no ``@``, no CVC label and
nothing that folds, the very test :func:`core.pii.detect` starts with) are copied as they are,
ASCII strings the detector's own pre-screen turns away (:func:`core.pii.may_contain_pii`) are
copied too, other strings and long integers go through the same detector and masks as
:func:`core.redaction.redact`, and the canonical text is written on the way. An object whose
field names are all plain and were seen in that order before reuses their sorted order and JSON
texts (an answer's objects have the same shape on every call).

The output is byte-identical to ``canonical(redact(value).value)``: anything this encoder is not
sure of (floats beyond the plain kind, integers beyond 2**53, tuples, sets, bytes, non-string
keys, other objects) raises :class:`Unsure` and the caller takes the general path.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from core.canonical import canonical_json
from core.pii import may_contain_pii, too_short_for_pii
from core.redaction import Redactor, clean_text

_MAX_SAFE = 2**53 - 1
_NO_PATH: tuple[Any, ...] = ()
_LITERALS = {None: "null", True: "true", False: "false"}


# Field names known to need nothing (ASCII, unchanged by the detectors) and their JSON text: the
# names of a tool's answer repeat on every call, so they are read once.
_PLAIN_NAMES: dict[str, str] = {}
# The objects whose names are all plain, by their names in order: for each member in RFC 8785
# order, its position and its ``"name":`` text (an answer's objects repeat their shape on every call).
_SHAPES: dict[tuple[str, ...], tuple[tuple[int, str], ...]] = {}


class Unsure(Exception):
    """The value holds something only the general path handles exactly."""


class _Pass:
    __slots__ = ("changed", "redactor")

    def __init__(self, key: bytes) -> None:
        self.redactor = Redactor(key, "partial")
        # anything masked or cleaned, or a float (Python and RFC 8785 may write it with different
        # lengths): the text's length is then not the original payload's size
        self.changed = False

    def text(self, value: str, context: str | None) -> str:
        if value.isascii():  # clean_text's own first test, without the call
            clean = value
        else:
            clean = clean_text(value)
            if clean is not value:
                self.changed = True
        if len(clean) < 9 and too_short_for_pii(clean):  # too short for any kind of personal data
            return clean
        masked = self.redactor.text(clean, _NO_PATH, context)
        if masked is not clean:
            self.changed = True
        return masked

    def encode(self, value: Any, context: str | None) -> str:
        kind = type(value)
        if kind is str:
            # ASCII text the detector's own pre-screen turns away (core.pii.may_contain_pii: False
            # guarantees detect finds nothing, whatever the field) is written as it is: the walk
            # below would return it unchanged, without findings
            if value.isascii() and ((len(value) < 9 and too_short_for_pii(value)) or not may_contain_pii(value)):
                return encode_basestring(value)
            return encode_basestring(self.text(value, context))
        if kind is int:
            if not -_MAX_SAFE <= value <= _MAX_SAFE:
                raise Unsure
            as_text = str(value)
            if len(as_text) < 10:
                return as_text
            masked = self.text(as_text, context)
            return as_text if masked == as_text else encode_basestring(masked)
        if kind is dict:
            return self._object(value)
        if kind is list:
            return "[" + ",".join([self.encode(item, context) for item in value]) + "]"
        if value is None or value is True or value is False:
            return _LITERALS[value]
        if kind is float:
            if not math.isfinite(value):
                raise Unsure
            self.changed = True
            return canonical_json(value).decode("ascii")
        raise Unsure

    def _object(self, value: dict[Any, Any]) -> str:
        names = tuple(value)
        shape = _SHAPES.get(names)
        if shape is not None:  # every name plain and seen before: their order and texts are known
            items = tuple(value.values())
            encode = self.encode
            return "{" + ",".join([prefix + encode(items[i], names[i]) for i, prefix in shape]) + "}"
        members: dict[str, str] = {}
        ascii_names = True
        plain = True
        for name, item in value.items():
            if name in _PLAIN_NAMES:  # a field name seen before: ASCII, nothing to mask
                members[name] = self.encode(item, name)
                continue
            if type(name) is not str:
                raise Unsure
            key = self.text(name, None)
            while key in members:  # two keys masked alike stay apart, as in core.redaction.redact
                key += "#"
            members[key] = self.encode(item, name)
            if key is name and name.isascii() and len(name) <= 64 and len(_PLAIN_NAMES) < 4096:
                _PLAIN_NAMES[name] = encode_basestring(name)
            else:
                plain = False
                if not key.isascii():
                    ascii_names = False
        # RFC 8785 orders keys by UTF-16 code units: for ASCII names that is the plain order
        keys = sorted(members) if ascii_names else sorted(members, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        if plain:
            if len(_SHAPES) >= 1024:  # many shapes (keys that are data): start again with the current ones
                _SHAPES.clear()
            position = {name: i for i, name in enumerate(names)}
            _SHAPES[names] = tuple((position[k], _PLAIN_NAMES[k] + ":") for k in keys)
        return "{" + ",".join([(_PLAIN_NAMES.get(k) or encode_basestring(k)) + ":" + members[k] for k in keys]) + "}"


def redact_canonical(value: Any, key: bytes) -> tuple[str, list[str], bool]:
    """(canonical text of the redacted value, sorted distinct HMACs, whether the text's length
    may differ from the original's compact JSON: something was masked or cleaned, or a float).

    Raises :class:`Unsure` for values only :func:`core.redaction.redact` and ``rfc8785`` handle exactly.
    """
    walk = _Pass(key)
    text = walk.encode(value, None)
    findings = walk.redactor.findings
    return text, sorted({f.hmac for f in findings if f.hmac}), walk.changed
