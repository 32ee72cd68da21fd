"""core.pii's ASCII pre-screen, searched in two halves, and the audit's walk over public texts.

The pre-screen of ASCII text (``HINT_ASCII``) is searched as its digit half and its other half,
the digit half only when nine digits are in a row once separators are deleted
(``core.pii_prescreen.hint_ascii``). The old form is the one regular expression, written out here as it
was; both must give the same verdict on every text, and the masker the same output with either.
Then the one-pass redacting encoder (``audit/payload.py``, which skips what the pre-screen turns
away and reuses the key order of objects it has seen) must store exactly what the general path
stores, over the public texts in ``../shared/data`` and fuzzed payloads.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.pii as pii
import core.pii_prescreen as prescreen
from audit.payload import Unsure, redact_canonical
from core.canonical import canonical_json
from core.redaction import redact

KEY = b"k" * 32
# HINT_ASCII before it was split (core/pii_prescreen.py): the oracle
OLD_HINT_ASCII = re.compile(
    r"[@0-9VvXx\[({<](?:(?<=[0-9])(?:[-., ()/_~]{0,5}[0-9]){8}|(?<=@)(?<!\*@)|(?<=[VvXx\[({<])"
    r"(?:(?<=[Cc][Vv])[CcVv]|(?<=[Ee][Xx])[Pp](?![A-Za-z])|(?<=[Ee][Xx])[Pp][Ii][Rr]"
    r"|(?<=[Vv])[Aa][Ll][Ii][Dd]\s*(?:[Tt][Hh][Rr][Uu]|[Tt][Hh][Rr][Oo][Uu][Gg][Hh]|[Uu][Nn][Tt][Ii][Ll])"
    r"|(?<=[\[({<])\s*(?:[Aa][Tt]|[Dd][Oo][Tt])))"
)


def _old_hint_ascii(text: str) -> bool:
    return OLD_HINT_ASCII.search(text) is not None


def _shared_data() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    for base in (root.parent / "shared", root.parent.parent / "shared", Path("/work/shared")):
        if (base / "data").is_dir():
            return base / "data"
    return None


DATA = _shared_data()
needs_data = pytest.mark.skipif(DATA is None, reason="../shared/data not found beside the repository")


def public_texts() -> Iterator[str]:
    """KorQuAD and SQuAD dev passages and questions, LongMemEval turns, every legacy CSV cell."""
    assert DATA is not None
    for name in ("KorQuAD_v1.0_dev.json", "squad_v1.1_dev.json"):
        data = json.loads((DATA / "retrieval" / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                yield paragraph["context"]
                for qa in paragraph["qas"]:
                    yield qa["question"]
    memory = json.loads((DATA / "memory" / "longmemeval" / "longmemeval_oracle.json").read_text(encoding="utf-8"))
    for question in memory:
        yield question["question"]
        yield str(question["answer"])
        for session in question["haystack_sessions"]:
            for turn in session:
                yield turn["content"]
    for path in sorted((DATA / "legacy").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                yield from (cell for cell in row if cell)


def _pieces(text: str) -> Iterator[str]:
    """The text, and its lines and words: short strings are what a payload mostly holds."""
    yield text
    yield from text.splitlines()
    yield from text.split()


# ASCII text that exercises every alternative: digits with and between separators, the labels,
# brackets, "@" after a star or not
ascii_text = st.text(
    alphabet=st.sampled_from(list("0123456789-., ()/_~@*VvXxCcEePpIiRrAaLlDdTtHhUuOoGgNn[{<>]} \t\n+:T")),
    max_size=60,
) | st.text(alphabet=st.characters(max_codepoint=127), max_size=40)


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(ascii_text)
def test_split_prescreen_gives_the_old_verdict(text):
    assert prescreen.hint_ascii(text) == _old_hint_ascii(text)


def test_the_pre_screen_is_the_one_the_old_form_was():
    assert prescreen.HINT_ASCII.pattern == OLD_HINT_ASCII.pattern
    for text in (
        "2026-12-03T20:14:00+09:00",
        "568231904417",
        "010-1234-5678",
        "0 1 0 - 1 2 3 4 - 5 6 7 8",
        "1-2-3-4-5-6-7-8",
        "1------2-3-4-5-6-7-8-9",
        "1-----2-3-4-5-6-7-8-9",
        "u***@x.kr",
        "a@b",
        "cvc 123",
        "valid thru 12/29",
        "(at)",
        "exp",
        "expiry",
        "0af7651916cd43dd8448eb211c80319c",
    ):
        assert prescreen.hint_ascii(text) == _old_hint_ascii(text), text


@needs_data
def test_split_prescreen_and_masker_agree_with_the_old_form_over_public_texts(monkeypatch):
    """Every public text, line and word: the same pre-screen verdict, and the same masks and
    findings from ``mask_text`` and ``detect`` with the old pre-screen put back."""
    texts = {piece for text in public_texts() for piece in _pieces(text)}
    assert len(texts) > 100_000
    ascii_texts = [t for t in texts if t.isascii()]
    assert [t for t in ascii_texts if prescreen.hint_ascii(t) != _old_hint_ascii(t)] == []
    screened = [t for t in texts if pii.may_contain_pii(t)]  # the rest: nothing found either way
    new = [(pii.mask_text(t), pii.detect(t)) for t in screened]
    pii._CLEAN.clear()
    monkeypatch.setattr(pii, "hint_ascii", _old_hint_ascii)  # what detect calls
    old = [(pii.mask_text(t), pii.detect(t)) for t in screened]
    pii._CLEAN.clear()
    assert new == old
    hinted = [t for t in ascii_texts if _old_hint_ascii(t)]
    assert all(pii.may_contain_pii(t) for t in hinted)


def _oracle(value):
    redaction = redact(value, key=KEY)
    return canonical_json(redaction.value).decode("utf-8"), redaction.hmacs


@needs_data
def test_one_pass_encoder_equals_general_path_over_public_texts():
    """Public texts as the values of payloads of a few shapes (each shape read twice: the second
    time its key order comes from the encoder's cache), and as field names."""
    texts = sorted({piece for text in public_texts() for piece in _pieces(text) if len(piece) <= 400})
    step = max(1, len(texts) // 20_000)
    sample = texts[::step]
    for start in range(0, len(sample), 3):
        a, b, c = [*sample[start : start + 3], "", ""][:3]
        for value in (
            {"order_id": a, "memo": b, "items": [{"name": c, "quantity": 1}]},
            {"order_id": b, "memo": c, "items": [{"name": a, "quantity": 2}]},
            {"account_no": a, "phone": b},
            {a: b, "x": c},
            [a, b, {"memo": c}],
        ):
            try:
                text, hmacs, _ = redact_canonical(value, KEY)
            except Unsure:
                continue
            assert (text, hmacs) == _oracle(value), value


keys = st.one_of(
    st.sampled_from(["order_id", "memo", "account_no", "계좌", "010-1234-5678", "tracking_number", "a", "b"]),
    st.text(max_size=6),
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | ascii_text
    | st.sampled_from(["010-1234-5678", "hong@example.com", "900101-1234567", "2026-12-03T20:14:00+09:00", "김*수"])
)
payloads = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=20
)


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(payloads, min_size=1, max_size=3))
def test_objects_of_a_shape_seen_before_are_encoded_as_the_general_path_does(values):
    """The same payloads twice in a row: the second pass takes the cached key orders."""
    for value in values + values:
        try:
            text, hmacs, _ = redact_canonical(value, KEY)
        except Unsure:
            continue
        assert (text, hmacs) == _oracle(value)


def test_a_shape_whose_names_hold_personal_data_is_never_cached(monkeypatch):
    from audit import payload

    monkeypatch.setattr(payload, "_SHAPES", {})

    value = {"010-1234-5678": "x", "memo": "y"}
    for _ in range(3):
        text, hmacs, _ = redact_canonical(value, KEY)
        assert "1234-5678" not in text and len(hmacs) == 1
    assert tuple(value) not in payload._SHAPES
    plain = {"order_id": "8841", "memo": "hong@example.com"}
    redact_canonical(plain, KEY)
    assert tuple(plain) in payload._SHAPES
    text, hmacs, _ = redact_canonical({"order_id": "8842", "memo": "kim@example.com"}, KEY)
    assert "kim@" not in text and len(hmacs) == 1
