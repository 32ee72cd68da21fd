"""core/pii.py against values a hostile customer said with fillers between their groups ("카드 1234
5678 그리고 9012 3456", "전화번호 010 음 1234 음 5678", "공일공 일이삼사 음 오육칠팔"), in sino-Korean
groups ("010 천이백삼십사 오천육백칠십팔"), as a labelled half of a registration number ("뒷자리는
1234567이요"), a labelled partial card, a card missing a digit, and an e-mail address in Hangul.

A value joined by fillers is masked only with a cue (a label in the same sentence, no order or
tracking word between) or a shape that is one by itself (01x and groups that make a mobile number,
4-4-4-4 groups passing Luhn). Each group is masked where it is; the fillers stay as said. The
near-misses are order numbers, amounts, dates and times next to the same fillers.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.pii import PiiKind, detect, mask_match, mask_text, may_contain_pii, too_short_for_pii
from core.redaction import redact, value_hmac
from tests.core.test_pii_formats import check_pre_screen, check_row

KEY = b"k" * 32
UNCHANGED = None

TABLE: list[tuple[str, str, str | None]] = [
    # --- cards, fillers between groups ---------------------------------------------------------
    ("card, 그리고", "카드 1234 5678 그리고 9012 3456", "카드 **** **** 그리고 **** 3456"),
    ("card, 음", "카드번호는 1234 5678 음 9012 3456", "카드번호는 **** **** 음 **** 3456"),
    ("card, 아 잠깐만요", "카드 1234 5678 아 잠깐만요 9012 3456", "카드 **** **** 아 잠깐만요 **** 3456"),
    ("card, last group first", "카드번호 끝자리 3456 앞은 1234 5678 9012", "카드번호 끝자리 3456 앞은 **** **** ****"),
    ("card, 어, particle after", "카드번호 1234 5678 어 9012 3456 이에요", "카드번호 **** **** 어 **** 3456 이에요"),
    ("card, Luhn, no label", "4111 1111 그리고 1111 1111", "**** **** 그리고 **** 1111"),
    ("card, spoken with a filler", "카드 일이삼사 오육칠팔 음 구공일이 삼사오육", "카드 **** **** 음 **** ****"),
    ("card, label after", "1234 5678 음 9012 3456 카드번호요", "**** **** 음 **** 3456 카드번호요"),
    ("partial card, front eight", "카드 앞 여덟자리 1234 5678", "카드 앞 여덟자리 **** ****"),
    ("partial card, front six", "카드 앞자리는 123456 이에요", "카드 앞자리는 ****** 이에요"),
    ("card missing a digit", "카드 1234-5678-9012-345", "카드 ****-****-****-2345"),
    # --- phones -------------------------------------------------------------------------------
    ("phone, 그리고", "전화 010 1234 그리고 5678", "전화 010 **** 그리고 5678"),
    ("phone, 음 twice", "전화번호 010 음 1234 음 5678", "전화번호 010 음 **** 음 5678"),
    ("phone, spoken, 음", "공일공 일이삼사 음 오육칠팔", "*** **** 음 ****"),
    ("phone, particles", "전화번호는 010이고요 1234 5678이에요", "전화번호는 010이고요 **** 5678이에요"),
    ("phone, sino-Korean groups", "010 천이백삼십사 오천육백칠십팔", "010 ****** *******"),
    ("phone, sino-Korean after a label", "휴대폰 010 천이백삼십사 오천육백칠십팔이요", "휴대폰 010 ****** *******이요"),
    ("phone, no label, 음", "010 1234 음 5678", "010 **** 음 5678"),
    ("phone, 어 and 이요", "핸드폰 010 1234 어 5678이요", "핸드폰 010 **** 어 5678이요"),
    ("phone, spoken, 다음", "폰 번호 공일공 일이삼사 다음 오육칠팔", "폰 번호 *** **** 다음 ****"),
    ("phone, 에 between", "연락처는 010에 1234에 5678이요", "연락처는 010-****-5678이요"),
    ("phone, area and middle together", "전화 010 1234 음 5678", "전화 010 **** 음 5678"),
    ("phone, 잠시만요", "연락처 010 1234 잠시만요 5678 입니다", "연락처 010 **** 잠시만요 5678 입니다"),
    # --- accounts -----------------------------------------------------------------------------
    ("account, 그리고", "계좌 110 123 그리고 456789", "계좌 *** *** 그리고 **6789"),
    ("account after a bank, 음", "신한 110 123 음 456789", "신한 *** *** 음 **6789"),
    ("account, 4-3-6, 어", "입금 계좌는 1002 123 어 456789 예요", "입금 계좌는 **** *** 어 **6789 예요"),
    # --- registration numbers: halves alone, fillers, spoken ------------------------------------
    ("RRN front half alone", "주민번호 앞자리는 900101", "주민번호 앞자리는 ******"),
    ("RRN front half, 이요", "주민번호 앞자리는 900101이요", "주민번호 앞자리는 ******이요"),
    ("RRN back half alone", "뒷자리는 1234567이요", "뒷자리는 *******이요"),
    ("RRN after 생년월일", "생년월일 900101 뒷자리 1234567", "생년월일 ****** 뒷자리 *******"),
    ("RRN spoken, sino-Korean year", "주민번호 구십 공일 공일 다시 일이삼사 오육칠", "주민번호 " + "*" * 20),
    (
        "RRN, 생년월일은 ... 이고요",
        "생년월일은 900101이고요 뒷자리는 1234567이에요",
        "생년월일은 ******이고요 뒷자리는 *******이에요",
    ),
    ("RRN, filler, 주민등록번호", "주민등록번호 900101 그리고 1234567", "주민등록번호 ****** 그리고 *******"),
    ("RRN, 생년월일 alone", "생년월일은 900101 입니다", "생년월일은 ****** 입니다"),
    # --- e-mail in Hangul ---------------------------------------------------------------------
    ("e-mail, Hangul name and domain", "김민수@네이버.com", "***@xn--950bt9s8xi.com"),
    ("e-mail, Hangul name", "메일은 김민수@naver.com 이에요", "메일은 ***@naver.com 이에요"),
    ("e-mail, Hangul domain", "minsu@네이버.com으로 보내주세요", "m***@xn--950bt9s8xi.com으로 보내주세요"),
    # --- near misses: order numbers, amounts, dates, times next to fillers -----------------------
    ("order numbers, 그리고", "주문번호 8841 그리고 8842", UNCHANGED),
    ("amounts, 그리고", "35,500원 그리고 12,000원", UNCHANGED),
    ("dates, 그리고", "12월 3일 그리고 4일", UNCHANGED),
    ("order numbers, 번", "8822번 그리고 8823번", UNCHANGED),
    ("spoken order number", "팔천팔백이십이번", UNCHANGED),
    ("spoken order number after 주문번호", "주문번호 팔천팔백이십이 그리고 팔천팔백이십삼", UNCHANGED),
    ("four order numbers, 음", "주문번호 8841 음 8842 음 8843 음 8844", UNCHANGED),
    ("card word, then orders", "카드로 결제한 주문번호 8841 그리고 8842 그리고 8843 그리고 8844", UNCHANGED),
    ("tracking number", "운송장 1234 5678 그리고 9012", UNCHANGED),
    ("tracking number after a card word", "카드 말고 송장번호 1234 5678 음 9012 3456", UNCHANGED),
    ("date and time", "2024년 12월 3일 오후 3시", UNCHANGED),
    ("times", "12월 3일 오후 3시 그리고 4시", UNCHANGED),
    ("order numbers after a phone word", "전화로 주문한 8841 그리고 8842", UNCHANGED),
    ("card instalments and an amount", "카드 할부 3개월 그리고 35,500원", UNCHANGED),
    ("card amounts", "카드 결제 금액 12,000원 그리고 3,500원", UNCHANGED),
    ("a date after a phone word", "전화 주신 날짜 2024 12 03 음 14 30", UNCHANGED),
    ("phone's last four", "전화번호 뒷자리 5678 이에요", UNCHANGED),
    ("card's last four", "카드 뒷자리 3456 이요", UNCHANGED),
    ("우리 and orders", "우리 주문 8841 그리고 8842", UNCHANGED),
    ("account word, then orders", "계좌 이체로 주문한 8841 그리고 8842 그리고 8843", UNCHANGED),
    ("12-digit order number in halves", "주문번호 110123 그리고 456789", UNCHANGED),
    ("years and months after 폰", "폰 바꾼 지 2년 그리고 3개월", UNCHANGED),
    ("quantities", "카드 2장 그리고 3장 주세요", UNCHANGED),
    ("010 without its groups", "010 으로 시작하는 번호 그리고 8841", UNCHANGED),
    ("four years, 그리고", "2021 2022 그리고 2023 2024", UNCHANGED),
    ("front half label, not a date", "주민번호 앞자리는 901301", UNCHANGED),
    ("back half label, starts with 9", "뒷자리는 9234567이요", UNCHANGED),
    ("count words", "일이 많아서 음 사이에 이사 그리고 오사카", UNCHANGED),
    ("an e-mail look-alike with no TLD", "김민수@네이버 에서 봐요", UNCHANGED),
]


@pytest.mark.parametrize(("label", "text", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_table(label, text, expected):
    check_row(label, text, expected)


def test_pre_screen_never_misses_these_forms():
    check_pre_screen(TABLE)


def test_kinds_and_values():
    def found(text):
        return {(m.kind, m.normalized) for m in detect(text)}

    assert found("카드 1234 5678 그리고 9012 3456") == {(PiiKind.CARD, "1234567890123456")}
    assert found("카드번호 끝자리 3456 앞은 1234 5678 9012") == {(PiiKind.CARD, "1234567890123456")}
    assert found("전화번호 010 음 1234 음 5678") == {(PiiKind.PHONE, "01012345678")}
    assert found("공일공 일이삼사 음 오육칠팔") == {(PiiKind.PHONE, "01012345678")}
    assert found("010 천이백삼십사 오천육백칠십팔") == {(PiiKind.PHONE, "01012345678")}
    assert found("계좌 110 123 그리고 456789") == {(PiiKind.ACCOUNT, "110123456789")}
    assert found("생년월일 900101 뒷자리 1234567") == {(PiiKind.RRN, "9001011234567")}
    assert found("주민번호 구십 공일 공일 다시 일이삼사 오육칠") == {(PiiKind.RRN, "9001011234567")}
    assert found("김민수@네이버.com") == {(PiiKind.EMAIL, "김민수@네이버.com")}


def test_a_value_said_with_fillers_has_the_typed_values_hmac():
    stored = redact({"q": "전화번호 010 음 1234 음 5678"}, key=KEY).hmacs
    assert set(stored) == {value_hmac(KEY, "010-1234-5678")}
    stored = redact({"q": "카드 4111 1111 그리고 1111 1111"}, key=KEY).hmacs
    assert set(stored) == {value_hmac(KEY, "4111111111111111")}


def test_no_raw_group_survives():
    for _, text, expected in TABLE:
        if expected is UNCHANGED:
            continue
        masked = mask_text(text)
        for group in ("1234", "9012", "456789", "900101", "1234567", "일이삼사", "천이백삼십사", "김민수"):
            if group in text:
                assert group not in masked, (text, masked)


# --- public texts: no change over what the masker did without these rules ---------------------


def _public_texts() -> list[str] | None:
    """KorQuAD and SQuAD dev passages and questions, LongMemEval (oracle) turns, legacy CSV cells."""
    import csv
    from pathlib import Path

    data = next((p for p in (Path(__file__).resolve().parents[3] / "shared" / "data", Path("/work/shared/data"))
                 if p.is_dir()), None)  # fmt: skip
    if data is None:
        return None
    texts: set[str] = set()
    for name in ("KorQuAD_v1.0_dev.json", "squad_v1.1_dev.json"):
        for article in json.loads((data / "retrieval" / name).read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                texts.add(paragraph["context"])
                texts.update(qa["question"] for qa in paragraph["qas"])
    for question in json.loads((data / "memory" / "longmemeval" / "longmemeval_oracle.json").read_text("utf-8")):
        texts.update(turn["content"] for session in question["haystack_sessions"] for turn in session)
    for path in sorted((data / "legacy").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            texts.update(cell for row in csv.reader(handle) for cell in row if cell)
    return sorted(texts)


def test_no_change_over_public_texts(monkeypatch):
    """The new rules (fillers, Hangul e-mail, 4-4-4-3 after a card word) mask nothing new in public
    text: every text masks as it did with them switched off."""
    import re

    from core import pii, pii_cards

    texts = _public_texts()
    if texts is None:
        pytest.skip("../shared/data not found beside the repository")
    assert len(texts) > 25_000
    texts = [t for t in texts if may_contain_pii(t)]
    new = [mask_text(t) for t in texts]
    pii._CLEAN.clear()
    monkeypatch.setattr(pii, "filler_values", lambda text: iter(()))
    monkeypatch.setattr(pii, "HANGUL_EMAIL", re.compile(r"(?!)"))
    monkeypatch.setattr(pii_cards, "_LABELLED_LAYOUTS", frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4)}))
    old = [mask_text(t) for t in texts]
    pii._CLEAN.clear()
    assert [(t, a, b) for t, a, b in zip(texts, old, new, strict=True) if a != b] == []


# --- fuzz: values said in groups, fillers, cues and near-misses, every pre-screen open ----------

_CUES = ["카드 ", "카드번호는 ", "전화 ", "연락처 ", "핸드폰 ", "계좌 ", "신한 ", "우리 ", "주민번호 ", "생년월일 "]
_CUES += ["뒷자리는 ", "카드 앞 여덟자리 "]
_NEAR = ["주문번호 ", "운송장 ", "금액 ", "card ", "phone ", ""]
_GAPS = [" ", " 음 ", " 그리고 ", " 아 잠깐만요 ", "이고요 ", "에 ", " 다시 ", "-", ", ", "  ", " 앞은 ", " 뒷자리 "]
_TAILS = ["", "이요", "이에요", " 입니다", "번", "원", "일", "개월", ".", " 카드번호요"]
_SPOKEN = str.maketrans("0123456789", "공일이삼사오육칠팔구")
_SINO = {"1234": "천이백삼십사", "5678": "오천육백칠십팔", "90": "구십", "8822": "팔천팔백이십이"}


@st.composite
def said_in_groups(draw) -> str:
    groups = draw(
        st.lists(
            st.sampled_from(["010", "011", "02", "1234", "5678", "9012", "3456", "4111", "1111", "110", "123", "456789",
                             "900101", "1234567", "90", "01", "8841", "2024", "12", "35,500"]),
            min_size=1, max_size=5,
        )
    )  # fmt: skip
    said = []
    for group in groups:
        how = draw(st.sampled_from(["typed", "typed", "spoken", "sino"]))
        if how == "spoken" and group.isdigit():
            group = group.translate(_SPOKEN)
        elif how == "sino":
            group = _SINO.get(group, group)
        said.append(group)
    text = said[0] + "".join(draw(st.sampled_from(_GAPS)) + g for g in said[1:])
    return draw(st.sampled_from(_CUES + _NEAR)) + text + draw(st.sampled_from(_TAILS))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(said_in_groups())
def test_property_said_in_groups(text):
    """The pre-screens never hide what the rules find, masking leaves nothing detectable, and every
    part of a value is masked (keeping at most what a whole value's mask keeps)."""
    from tests.core.test_pii_formats import _ungated

    found = detect(text)
    assert found == _ungated(text), text
    if found:
        assert may_contain_pii(text) and not too_short_for_pii(text)
    once = mask_text(text)
    assert detect(once) == [], (text, once)
    assert mask_text(once) == once
    for match in found:
        masked = mask_match(match)
        assert masked != match.text or match.part == "t", (text, once)  # a part that is the last four
        assert sum(ch.isdigit() for ch in masked) <= 7, (text, once)  # at most 010 and the last four
