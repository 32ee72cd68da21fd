"""Masking what is stored: the org's storage policy, keyed HMACs of values, deep redaction.

:mod:`core.pii` finds and masks personal data in one text; this module applies it to what the
product keeps:

- :func:`storage_policy` — what an org lets storage keep (phone numbers and e-mail addresses
  with ``SWITCHBOARD_PII_KEEP``; registration, card and account numbers never);
  :func:`only_personal_data` — a text that says nothing but personal values and their labels;
- :func:`value_hmac` / :func:`hmac_normalized` — the keyed HMAC of a value, so an exact value can
  be searched for without being stored;
- :func:`redact` and :class:`Redactor` — a masked deep copy of any JSON-like value (keys too) and
  the findings, each with its HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.pii import (
    MAX_PASSES,
    MaskStyle,
    PiiKind,
    PiiMatch,
    detect,
    mask_match,
    mask_text,
    may_contain_pii,
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One value :func:`redact` masked. Holds no original value, only its keyed HMAC."""

    kind: PiiKind
    path: str
    masked: str
    hmac: str | None = None


@dataclass(frozen=True, slots=True)
class Redaction:
    """The masked copy of a value and what was masked in it."""

    value: Any
    findings: tuple[Finding, ...] = field(default=())

    @property
    def hmacs(self) -> list[str]:
        """The sorted, distinct HMACs of the masked originals (empty without a key)."""
        return sorted({f.hmac for f in self.findings if f.hmac})


# --- what an org lets storage keep -------------------------------------------------------------

#: kinds an org may choose to keep in stored free text; registration, card and account numbers never
KEEPABLE = frozenset({PiiKind.PHONE, PiiKind.EMAIL})
_WORDLESS = re.compile(r"[\W_]+")
_LABELS = re.compile(
    r"(?i)주민(?:등록)?번호|외국인등록번호|카드(?:번호)?|계좌(?:번호)?|전화(?:번호)?|휴대폰(?:번호)?|핸드폰(?:번호)?|"
    r"연락처|이메일|메일|번호|은행|card|account|phone|mobile|e-?mail|number|no|is|my|내|제|고객|입니다|이에요|예요|이요|이고|요|은|는|이|가|"
    r"cvc2?|cvv2?|보안\s*코드|유효\s*기간|만료일?|exp(?:iry)?|[앞뒤뒷]\s*(?:자리|번호)"
)


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    """Which personal data an org keeps in stored free text (default: none, everything masked).

    Set per org with ``SWITCHBOARD_PII_KEEP`` (``org-a:phone,email;org-b:phone``). Resident
    registration, card and account numbers are masked whatever the policy says.
    """

    keep: frozenset[PiiKind] = frozenset()

    def mask(self, text: str) -> str:
        return mask_text(text, keep=self.keep)


def storage_policy(org_id: str | None, spec: str | None = None) -> StoragePolicy:
    """The org's :class:`StoragePolicy` from ``spec`` (default: the ``SWITCHBOARD_PII_KEEP`` variable)."""

    spec = os.environ.get("SWITCHBOARD_PII_KEEP", "") if spec is None else spec
    for part in spec.split(";"):
        org, _, kinds = part.partition(":")
        if org.strip() and org.strip() == org_id:
            wanted = {k.strip().lower() for k in kinds.split(",")}
            return StoragePolicy(frozenset(k for k in KEEPABLE if k.value in wanted))
    return StoragePolicy()


def only_personal_data(text: str) -> bool:
    """True when ``text`` says nothing but personal values and their labels ('카드 4111-…', 'RRN 900101-…')."""
    matches = detect(text)
    if not matches:
        return False
    rest = "".join(
        text[a.end : b.start]
        for a, b in zip(
            [PiiMatch(PiiKind.RRN, 0, 0, "", ""), *matches],
            [*matches, PiiMatch(PiiKind.RRN, len(text), len(text), "", "")],
            strict=True,
        )
    )
    rest = _LABELS.sub(" ", rest)
    return not _WORDLESS.sub("", rest)


# --- keyed HMACs ------------------------------------------------------------------------------


def hmac_normalized(key: bytes, normalized: str) -> str:
    """HMAC-SHA256 (hex) of an already normalised value."""
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def normalize_value(value: str) -> str:
    """The form a value is HMAC'd in: digits only for numbers (+82 → 0), lower case for e-mail.

    A value that is not recognised as personal data is used as given (stripped).
    """
    value = value.strip()
    matches = detect(value)
    if len(matches) == 1 and matches[0].start == 0 and matches[0].end == len(value):
        return matches[0].normalized
    return value


def value_hmac(key: bytes, value: str) -> str:
    """The keyed HMAC :func:`redact` stores for ``value`` (``010-1234-5678`` = ``01012345678``)."""
    return hmac_normalized(key, normalize_value(value))


# --- deep redaction ---------------------------------------------------------------------------


#: kinds masked but never HMAC'd: three or four digits would find every record holding them
_UNINDEXED = frozenset({PiiKind.CVC, PiiKind.CARD_EXPIRY})


class Redactor:
    """Walks a value; paths are kept as tuples and only formatted for a finding.

    ``text`` masks one string and records its findings (used alone by ``audit.payload``).
    """

    def __init__(self, key: bytes | None, style: MaskStyle) -> None:
        self.key = key
        self.style = style
        self.findings: list[Finding] = []

    def text(self, text: str, path: tuple[Any, ...], context: str | None) -> str:
        """``text`` masked as :func:`mask_text` masks it (``text`` itself when nothing is found)."""
        for _ in range(MAX_PASSES):
            matches = detect(text, context=context)
            if not matches:
                break
            parts, pos = [], 0
            where = _format_path(path)
            for m in matches:
                masked = mask_match(m, style=self.style)
                indexed = self.key is not None and m.kind not in _UNINDEXED
                digest = hmac_normalized(self.key, m.normalized) if indexed else None
                self.findings.append(Finding(m.kind, where, masked, digest))
                parts.append(text[pos : m.start])
                parts.append(masked)
                pos = m.end
            parts.append(text[pos:])
            text = "".join(parts)
        return text

    def walk(self, value: Any, path: tuple[Any, ...], context: str | None) -> Any:
        if isinstance(value, str):
            return self.text(clean_text(value), path, context)
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            as_text = str(value)
            if len(as_text) < 10:
                return value
            masked = self.text(as_text, path, context)
            return value if masked == as_text else masked
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                name = k if isinstance(k, str) else str(k)
                key = self.text(clean_text(name), (*path, "<key>"), None)
                while key in out:
                    key += "#"
                out[key] = self.walk(v, (*path, key), name)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return [self.walk(v, (*path, i), context) for i, v in enumerate(items)]
        if isinstance(value, (bytes, bytearray)):
            return self.text(bytes(value).decode("utf-8", "replace"), path, context)
        return self.text(clean_text(str(value)), path, context)


def _format_path(path: tuple[Any, ...]) -> str:
    """``("a", 0, "b")`` → ``$.a[0].b``."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def clean_text(text: str) -> str:
    """``text`` without lone surrogates (they cannot be stored as UTF-8); ``text`` itself when clean."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def redact(value: Any, *, key: bytes | None = None, style: MaskStyle = "partial") -> Redaction:
    """A masked deep copy of ``value`` (strings, numbers, keys; nested at any depth).

    The copy is JSON-compatible (tuples and sets become lists, other objects their masked
    ``str``). With ``key`` each finding carries ``hmac_normalized(key, original)`` so the original
    can later be found by exact value (:func:`value_hmac`) without being stored.
    """
    copy = _plain_copy(value)
    if copy is not _NOT_PLAIN:
        return Redaction(copy)
    redactor = Redactor(key, style)
    out = redactor.walk(value, (), None)
    return Redaction(out, tuple(redactor.findings))


_PLAIN_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_NOT_PLAIN = object()


def _plain_copy(value: Any) -> Any:
    """A copy of ``value`` made through the C JSON encoder and decoder when it is plain JSON that
    certainly holds no personal data (the usual payload: no walk needed); ``_NOT_PLAIN`` otherwise.

    Anything the JSON round trip would change — non-string keys, tuples, NaN, lone surrogates,
    other types — is left to the walk, so the result is always what the walk would return.
    """
    try:
        text = _PLAIN_JSON.encode(value)
    except (TypeError, ValueError):
        return _NOT_PLAIN
    if may_contain_pii(text) or clean_text(text) is not text:
        return _NOT_PLAIN
    copy = json.loads(text)
    return copy if copy == value else _NOT_PLAIN
