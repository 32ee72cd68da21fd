"""Find and mask Korean personal data: the one PII detector every Switchboard package uses.

Kinds detected (:class:`PiiKind`): resident/foreigner registration numbers (주민·외국인등록번호),
mobile and landline phone numbers (domestic and +82 forms), card numbers (13-19 digits, Luhn
checked), bank account numbers (hyphenated 10-14 digits, or a digit run next to a word such as
계좌/입금/account) and e-mail addresses.

The API is small:

- :func:`mask_text` — ``"연락처 010-1234-5678"`` → ``"연락처 010-****-5678"`` (for logs and storage);
- :func:`redact` — a masked deep copy of any JSON-like value (keys too) plus the findings, each
  with an optional keyed HMAC of the original so exact-match search stays possible;
- :func:`value_hmac` — the same keyed HMAC for a value someone searches for;
- :func:`detect` — the raw matches (spans, kind, normalised value) for callers that need them;
- :func:`may_contain_pii` — a cheap pre-screen (False: certainly nothing to mask).

Masks never contain the original value: phone, card and account numbers keep at most their last
four digits, registration numbers keep nothing, e-mail addresses keep the first character and the
domain. ``style="tag"`` replaces each value by a tag such as ``[PHONE]`` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

MaskStyle = Literal["partial", "tag"]


class PiiKind(StrEnum):
    """The kinds of personal data the detector knows."""

    RRN = "rrn"  # 주민등록번호 / 외국인등록번호
    PHONE = "phone"
    CARD = "card"
    ACCOUNT = "account"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected value: where it is, what it is, and its normalised form (for HMACs)."""

    kind: PiiKind
    start: int
    end: int
    text: str
    normalized: str


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


# --- patterns ---------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
# YYMMDD-GNNNNNN; G (1-8) encodes century, sex and citizenship. The check digit is not required:
# numbers issued since October 2020 have none.
_RRN = re.compile(r"(?<![0-9])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ]?[1-8]\d{6}(?![0-9])")
_CARD = re.compile(r"(?<![0-9])(?:\d{13,19}|\d{4}(?:[- ]\d{2,7}){2,4})(?![0-9])")
# Mobile 01x, area codes 02/031-064, 070 (VoIP), 050x (safe numbers); +82 / 0082 / 82- forms.
_PHONE = re.compile(
    r"(?<![0-9+])(?P<cc>(?:\+82|0082)[-. ]?(?:\(0\))?|82[-. ]|\(?0)"
    r"(?P<area>1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])\)?[-. ]?"
    r"(?P<mid>\d{3,4})[-. ]?(?P<last>\d{4})(?![0-9]|-[0-9])"  # "010-1234-5678-90" is an account
)
_ACCOUNT_HYPHENATED = re.compile(r"(?<![0-9A-Za-z\-])\d{2,6}(?:-\d{2,7}){1,3}(?![0-9A-Za-z]|-[0-9])")
_ACCOUNT_WORDS = r"계좌|입금|송금|이체|환불계좌|예금주|은행|뱅크|account|acct|bank|iban"
_ACCOUNT_AFTER_WORD = re.compile(rf"(?i:{_ACCOUNT_WORDS})[^0-9]{{0,20}}?(?<![0-9+])(\d{{10,14}})(?![0-9])")
_ACCOUNT_KEY = re.compile(rf"(?i:{_ACCOUNT_WORDS}|account_?(?:no|num|number)?)")
_DIGIT_RUN = re.compile(r"(?<![0-9])\d{10,14}(?![0-9])")
# Identifiers that only look like numbers in places: UUIDs (``ef266e60-e043-4628-8014-…`` holds
# "043-4628-8014", a phone number's shape) and hex digests or ids of 16+ characters with a letter.
# Their spans are never personal data, so session, trace and record ids are never masked.
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,})(?![0-9A-Za-z])"
)
# Every kind needs an "@" or at least nine digits (02-123-4567); most text fails this at once.
_HINT = re.compile(r"@|\d(?:[-. ()]{0,2}\d){8}")


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _phone_normalized(m: re.Match[str]) -> str:
    return "0" + m["area"] + m["mid"] + m["last"]


def may_contain_pii(text: str) -> bool:
    """A cheap pre-screen: False guarantees :func:`detect` finds nothing in ``text``.

    Every kind needs an "@" or a run of nine digits; run it over a whole serialised payload to
    skip walking payloads that hold no personal data at all.
    """
    return bool(_HINT.search(text))


def detect(text: str, *, context: str | None = None) -> list[PiiMatch]:
    """Every personal value in ``text``, in order, without overlaps.

    ``context`` is the name of the field the text came from (a JSON key): a field named like an
    account (계좌, account_no, ...) makes a bare 10-14 digit run count as an account number.
    """
    if not text or (len(text) < 9 and "@" not in text) or not _HINT.search(text):
        return []  # every kind needs an "@" or nine digits
    account_context = bool(context and _ACCOUNT_KEY.search(context))
    if len(text) <= 64 and (text, account_context) in _CLEAN:
        return []
    found = _detect(text, account_context)
    if not found and len(text) <= 64:  # remember values known to hold no personal data only
        if len(_CLEAN) >= 4096:
            _CLEAN.clear()
        _CLEAN[(text, account_context)] = None
    return found


_CLEAN: dict[tuple[str, bool], None] = {}


def _detect(text: str, account_context: bool) -> list[PiiMatch]:
    found: list[PiiMatch] = []
    taken: list[tuple[int, int]] = [m.span() for m in _HEX_ID.finditer(text)]  # ids are not PII

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: PiiKind, start: int, end: int, normalized: str) -> None:
        if free(start, end):
            taken.append((start, end))
            found.append(PiiMatch(kind, start, end, text[start:end], normalized))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            add(PiiKind.EMAIL, m.start(), m.end(), m.group().lower())
    rrns = list(_RRN.finditer(text))
    for m in rrns:  # written with a separator: certainly a registration number
        if not m.group().isdigit():
            add(PiiKind.RRN, m.start(), m.end(), _digits(m.group()))
    for m in _ACCOUNT_AFTER_WORD.finditer(text):  # "계좌 1002123456789": the word decides
        add(PiiKind.ACCOUNT, m.start(1), m.end(1), m.group(1))
    if account_context:
        for m in _DIGIT_RUN.finditer(text):
            add(PiiKind.ACCOUNT, m.start(), m.end(), m.group())
    for m in rrns:
        add(PiiKind.RRN, m.start(), m.end(), _digits(m.group()))
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and digits[0] in "3456789":
            add(PiiKind.CARD, m.start(), m.end(), digits)
    for m in _PHONE.finditer(text):
        add(PiiKind.PHONE, m.start(), m.end(), _phone_normalized(m))
    for m in _ACCOUNT_HYPHENATED.finditer(text):
        digits = _digits(m.group())
        if 10 <= len(digits) <= 14:
            add(PiiKind.ACCOUNT, m.start(), m.end(), digits)
    found.sort(key=lambda p: p.start)
    return found


def contains_pii(text: str, *, context: str | None = None) -> bool:
    """True when :func:`detect` finds anything."""
    return bool(detect(text, context=context))


# --- masking ----------------------------------------------------------------------------------


def _keep_last(text: str, keep: int) -> str:
    """Replace every digit but the last ``keep`` with ``*``; separators stay."""
    total = sum(ch.isdigit() for ch in text)
    out, seen = [], 0
    for ch in text:
        if "0" <= ch <= "9":
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_match(match: PiiMatch, *, style: MaskStyle = "partial") -> str:
    """The masked form of one match."""
    if style == "tag":
        return f"[{match.kind.value.upper()}]"
    n = match.normalized
    if match.kind is PiiKind.EMAIL:
        local, _, domain = match.text.partition("@")
        return f"{local[:1]}***@{domain}"
    if match.kind is PiiKind.RRN:
        return "******-*******"
    if match.kind is PiiKind.PHONE:
        area, last = _phone_parts(n)
        prefix = "+82-" + area[1:] if match.text.lstrip("(").startswith(("+", "00", "82")) else area
        return f"{prefix}-{'*' * (len(n) - len(area) - 4)}-{last}"
    if match.kind is PiiKind.CARD:
        return f"****-****-****-{n[-4:]}"
    return _keep_last(match.text, 4)


def _phone_parts(normalized: str) -> tuple[str, str]:
    if normalized.startswith("02"):
        area = "02"
    elif normalized.startswith("050"):
        area = normalized[:4]
    else:
        area = normalized[:3]
    return area, normalized[-4:]


def mask_text(
    text: str, *, style: MaskStyle = "partial", context: str | None = None, keep: frozenset[PiiKind] = frozenset()
) -> str:
    """``text`` with every personal value masked (see :func:`mask_match`), except the kinds in ``keep``."""
    matches = [m for m in detect(text, context=context) if m.kind not in keep]
    if not matches:
        return text
    parts, pos = [], 0
    for m in matches:
        parts.append(text[pos : m.start])
        parts.append(mask_match(m, style=style))
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts)


# --- what an org lets storage keep -------------------------------------------------------------

#: kinds an org may choose to keep in stored free text; registration, card and account numbers never
KEEPABLE = frozenset({PiiKind.PHONE, PiiKind.EMAIL})
_WORDLESS = re.compile(r"[\W_]+")
_LABELS = re.compile(
    r"(?i)주민(?:등록)?번호|외국인등록번호|카드(?:번호)?|계좌(?:번호)?|전화(?:번호)?|휴대폰(?:번호)?|핸드폰(?:번호)?|"
    r"연락처|이메일|메일|번호|은행|card|account|phone|mobile|e-?mail|number|no|is|my|내|제|고객|입니다|이에요|예요|이요|요|은|는|이|가"
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
    import os

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


class Redactor:
    """Walks a value; paths are kept as tuples and only formatted for a finding.

    ``text`` masks one string and records its findings (used alone by ``audit.payload``).
    """

    def __init__(self, key: bytes | None, style: MaskStyle) -> None:
        self.key = key
        self.style = style
        self.findings: list[Finding] = []

    def text(self, text: str, path: tuple[Any, ...], context: str | None) -> str:
        matches = detect(text, context=context)
        if not matches:
            return text
        parts, pos = [], 0
        where = _format_path(path)
        for m in matches:
            masked = mask_match(m, style=self.style)
            digest = hmac_normalized(self.key, m.normalized) if self.key is not None else None
            self.findings.append(Finding(m.kind, where, masked, digest))
            parts.append(text[pos : m.start])
            parts.append(masked)
            pos = m.end
        parts.append(text[pos:])
        return "".join(parts)

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
