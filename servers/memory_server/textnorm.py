"""Text normalisation, content hashes and near-duplicate detection for memories.

Exact duplicates share :func:`dedup_hash` (case, spacing and punctuation do not count). Near
duplicates have a high character-bigram Jaccard similarity *and* the same numbers and the same
negation: "오후 3시 이후" and "오후 5시 이후" are different facts however similar they look.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_MEMORY_CHARS = 8_000
NEAR_DUPLICATE = 0.82

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NEGATION = re.compile(
    r"(않|안\s|안[가-힣]|못\s|못[가-힣]|없|아니|말고|싫|\bnot\b|n't\b|\bnever\b|\bno longer\b|\bno\b)", re.IGNORECASE
)


def clean_text(text: str) -> str:
    """NFC text without control characters, single-spaced and trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """The comparison form: NFKC, lower case, letters and digits only."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def dedup_hash(text: str) -> str:
    """sha256 of :func:`dedup_key`: equal for texts that differ only in case, spacing or punctuation."""
    return hashlib.sha256(dedup_key(text).encode("utf-8")).hexdigest()


def tombstone_hash(memory_id: str, text: str) -> str:
    """The hash kept after an erase: proves which text was removed to someone who has it, reveals nothing."""
    return hashlib.sha256(f"{memory_id}\n{text}".encode()).hexdigest()


def _bigrams(key: str) -> set[str]:
    if len(key) < 2:
        return {key} if key else set()
    return {key[i : i + 2] for i in range(len(key) - 1)}


def numbers(text: str) -> tuple[str, ...]:
    """The numbers in ``text``, sorted (part of what makes two facts different)."""
    return tuple(sorted(n.replace(",", "") for n in _NUMBER.findall(text)))


def negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def similarity(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity of the comparison forms of ``a`` and ``b``."""
    ga, gb = _bigrams(dedup_key(a)), _bigrams(dedup_key(b))
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def near_duplicate(a: str, b: str, threshold: float = NEAR_DUPLICATE) -> bool:
    """True when ``a`` and ``b`` say the same thing in nearly the same words."""
    if numbers(a) != numbers(b) or negated(a) != negated(b):
        return False
    return similarity(a, b) >= threshold
