"""core/pii.py against the formats a hostile tester stored raw: full-width and other look-alike
characters, cards with any separator, CVC and expiry, spaced phone numbers, a registration number
split by words, digits spoken in Korean and e-mail addresses written out.

Every row of :data:`TABLE` is a string and what :func:`core.pii.mask_text` makes of it
(``UNCHANGED``: nothing is personal data there). The near-misses are the product's everyday
numbers (dates, amounts, order and tracking numbers, times, versions) and Korean words made of the
syllables digits are read with.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import pii
from core.pii import (
    PiiKind,
    detect,
    mask_text,
    may_contain_pii,
    too_short_for_pii,
)
from core.pii_cards import luhn_ok
from core.redaction import only_personal_data, redact, value_hmac

KEY = b"k" * 32
UNCHANGED = None


def nfd(text: str) -> str:
    """``text`` decomposed (Hangul as jamo), as macOS writes it: NFKC composes it again."""
    return unicodedata.normalize("NFD", text)


TABLE: list[tuple[str, str, str | None]] = [
    # --- full-width and other characters NFKC (used later by search) turns into ASCII ---------
    ("full-width RRN", "９００１０１－２３４５６７８", "******-*******"),
    ("full-width phone", "０１０－５５５５－６６６６", "010-****-6666"),
    ("full-width phone in a sentence", "연락처：０１０－５５５５－６６６６입니다", "연락처：010-****-6666입니다"),
    ("full-width phone, ideographic spaces", "전화 ０１０\u3000５５５５\u3000６６６６ 으로", "전화 010-****-6666 으로"),
    ("half full-width RRN", "주민번호 ９００１０１-２３４５６７８", "주민번호 ******-*******"),
    ("full-width card", "카드 ４１１１－１１１１－１１１１－１１１１ 결제", "카드 ****-****-****-1111 결제"),
    ("full-width e-mail", "ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "h***@example.com"),
    (
        "typed, then full-width",
        "연락처 010-1234-5678 그리고 ０１０－５５５５－６６６６",
        "연락처 010-****-5678 그리고 010-****-6666",
    ),
    (
        "an address, then full-width",
        "메일 a@b.co 그리고 ０１０－５５５５－６６６６",
        "메일 a***@b.co 그리고 010-****-6666",
    ),
    ("zero-width spaces inside", "010\u200b1234\u200b5678", "010-****-5678"),
    ("soft hyphens inside", "9001\u00ad01-1234567", "******-*******"),
    ("en dashes", "010\u20131234\u20135678", "010-****-5678"),
    ("minus signs", "900101\u22121234567", "******-*******"),
    ("no-break spaces", "010\u00a01234\u00a05678", "010-****-5678"),
    ("circled digits", "⓪①⓪-①②③④-⑤⑥⑦⑧", "010-****-5678"),
    ("mathematical digits", "𝟎𝟏𝟎-𝟏𝟐𝟑𝟒-𝟓𝟔𝟕𝟖", "010-****-5678"),
    ("Arabic-Indic digits", "٠١٠-١٢٣٤-٥٦٧٨", "010-****-5678"),
    ("middle dots", "010·1234·5678", "010-****-5678"),
    ("decomposed Hangul: spoken phone", nfd("공일공 구팔칠육 오사삼이"), "010-****-5432"),
    (
        "decomposed Hangul: label",
        nfd("주민번호 앞자리 900101 뒷자리 1234567"),
        nfd("주민번호 앞자리 ****** 뒷자리 *******"),
    ),
    ("decomposed Hangul: 보안코드", nfd("보안코드 987"), nfd("보안코드 ***")),
    ("decomposed Hangul: 골뱅이", nfd("hong 골뱅이 naver 닷컴"), "h***@naver.com"),
    # --- cards: any separator, CVC and expiry ------------------------------------------------
    ("dotted card", "4111.1111.1111.1111", "****-****-****-1111"),
    ("slashed card", "4111/1111/1111/1111", "****-****-****-1111"),
    ("underscored card", "4111_1111_1111_1111", "****-****-****-1111"),
    ("mixed separators", "4111-1111.1111 1111", "****-****-****-1111"),
    ("spaced hyphens", "4111 - 1111 - 1111 - 1111", "****-****-****-1111"),
    ("4-4-4-4 failing Luhn", "4111.2222.3333.4444", "****-****-****-4444"),
    ("dotted card in a sentence", "카드번호 5555.5555.5555.4444 입니다", "카드번호 ****-****-****-4444 입니다"),
    ("Mastercard 2-series", "2221 0000 0000 0009", "****-****-****-0009"),
    ("CVC after the card", "카드 4111111111111111 cvc 987", "카드 ****-****-****-1111 cvc ***"),
    ("CVC: after the card", "카드 4111-1111-1111-1111 CVC: 987", "카드 ****-****-****-1111 CVC: ***"),
    ("보안코드 alone", "보안코드 987", "보안코드 ***"),
    ("CVC: alone", "CVC: 987", "CVC: ***"),
    ("cvc alone", "cvc 987", "cvc ***"),
    ("CVV2 four digits", "CVV2는 1234입니다", "CVV2는 ****입니다"),
    (
        "card, expiry and CVC",
        "카드 4111111111111111 유효기간 12/27 보안코드 987",
        "카드 ****-****-****-1111 유효기간 **/** 보안코드 ***",
    ),
    ("English expiry", "card exp 12/2027", "card exp **/**"),
    ("expiry with a particle", "카드 유효기간은 12/27이에요", "카드 유효기간은 **/**이에요"),
    (
        "markdown bold",
        "**카드** 4111 1111 1111 1111, 유효기간 **12/27**, CVC: **987**",
        "**카드** ****-****-****-1111, 유효기간 ****/****, CVC: *******",
    ),
    # --- digit by digit, as speech recognition writes a number (a walk stored these raw) ---------
    ("phone digit by digit", "폰 0 1 0 9 8 7 6 5 4 3 2", "폰 010-****-5432"),
    ("card digit by digit", "카드 4 5 1 8 4 2 1 2 3 4 5 6 7 8 9 0 입니다", "카드 ****-****-****-7890 입니다"),
    ("RRN digit by digit", "주민번호 9 0 0 1 0 1 1 2 3 4 5 6 7", "주민번호 *************************"),
    ("near miss: a numbered count", "목록 1 2 3 4 5 6 7 8 9 끝", UNCHANGED),
    ("near miss: eight spaced digits", "0 1 0 9 8 7 6 5", UNCHANGED),
    ("phone digit by digit, hyphens", "제 번호 0-1-0-9-8-7-6-5-4-3-2 입니다", "제 번호 010-****-5432 입니다"),
    ("phone digit by digit, spaced hyphens", "0 - 1 - 0 - 9 - 8 - 7 - 6 - 5 - 4 - 3 - 2", "010-****-5432"),
    ("phone digit by digit, commas", "번호 0,1,0,9,8,7,6,5,4,3,2", "번호 010-****-5432"),
    ("phone digit by digit, dots", "0. 1. 0. 9. 8. 7. 6. 5. 4. 3. 2", "010-****-5432"),
    ("card digit by digit, hyphens", "카드 4-5-1-8-4-2-1-2-3-4-5-6-7-8-9-0", "카드 ****-****-****-7890"),
    ("near miss: a dotted version", "버전 1.2.3.4.5.6.7.8.9 배포", UNCHANGED),
    # a dash read out as 다시, as callers say numbers (a hostile walk stored these raw)
    ("spoken phone, 다시 for the dashes", "제 번호 공일공 다시 구팔칠육 다시 오사삼이 요", "제 번호 010-****-5432 요"),
    ("typed phone, 다시 for the dashes", "010 다시 9876 다시 5432", "010-****-5432"),
    (
        "spoken card, 다시 for the dashes",
        "카드 사일일일 다시 일일일일 다시 일일일일 다시 일일일일",
        "카드 ****-****-****-1111",
    ),
    ("near miss: 다시 as 'again'", "내일 다시 전화할게요 이삼일 뒤에", UNCHANGED),
    # an account number said in groups after its word, and an address spaced as ASR writes it
    ("spaced account after its word", "환불계좌 신한 110 123 456789 이요", "환불계좌 신한 *** *** **6789 이요"),
    ("spaced account, then a phone", "계좌 110 123 456789 010 1234 5678", "계좌 *** *** **6789 010-****-5678"),
    ("near miss: small numbers after an account word", "계좌 2개 있어요 3 4번째", UNCHANGED),
    ("near miss: a date after an account word", "입금은 3일 뒤 2026 12 10 예정", UNCHANGED),
    ("spaced e-mail", "메일 minsu . kim @ example . com 이요", "메일 m***@example.com 이요"),
    ("near miss: a spaced at sign", "가격 3.5 @ 10개", UNCHANGED),
    ("near miss: a count with commas", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10", UNCHANGED),
    ("near miss: a price with commas", "가격 1,000,000,000원", UNCHANGED),
    # --- next to a card word, a card-length run is a card whatever its check digit -----------
    ("card word, failing Luhn", "카드 4518421234567890 이요", "카드 ****-****-****-7890 이요"),
    ("card word in English", "my card is 4518421234567890", "my card is ****-****-****-7890"),
    ("near miss: no card word, failing Luhn", "운송장 4518421234567890 조회", UNCHANGED),
    # --- phones with spaced separators ---------------------------------------------------------
    ("spaced hyphens", "010 - 9876 - 5432", "010-****-5432"),
    ("spaced dots", "010 . 9876 . 5432", "010-****-5432"),
    ("spaces (caught before)", "010 9876 5432", "010-****-5432"),
    ("double spaces", "010  9876  5432", "010-****-5432"),
    ("area code, spaced hyphen", "(02) 123 - 4567", "02-***-4567"),
    # --- registration numbers split by words ---------------------------------------------------
    ("RRN split by 앞자리/뒷자리", "주민번호 앞자리 900101 뒷자리 1234567", "주민번호 앞자리 ****** 뒷자리 *******"),
    (
        "RRN split by 이고",
        "주민등록번호는 900101 이고 뒷번호는 1234567",
        "주민등록번호는 ****** 이고 뒷번호는 *******",
    ),
    (
        "RRN split, digits in the words",
        "주민번호 앞 6자리는 900101, 뒤 7자리는 2345678입니다",
        "주민번호 앞 6자리는 ******, 뒤 7자리는 *******입니다",
    ),
    ("RRN, spaced hyphen", "900101 - 1234567", "******-*******"),
    # --- digits spoken in Korean (ASR) -------------------------------------------------------
    ("spoken phone", "공일공 구팔칠육 오사삼이", "010-****-5432"),
    ("spoken RRN", "구공공일공일 일이삼사오육칠", "******-*******"),
    ("spoken phone, 에 and a particle", "제 번호는 공일공에 일이삼사 오육칠팔이요", "제 번호는 010-****-5678이요"),
    ("spoken phone, hyphens", "공일공-구팔칠육-오사삼이", "010-****-5432"),
    ("spoken phone with 영", "영일영 구팔칠육 오사삼이 입니다", "010-****-5432 입니다"),
    ("spoken phone, no spaces", "번호는 공일공구팔칠육오사삼이입니다", "번호는 010-****-5432입니다"),
    ("spoken phone glued to 메일", "메일공일공 구팔칠육 오사삼이", "메일010-****-5432"),
    (
        "spoken RRN split by words",
        "주민번호 앞자리 구공공일공일 뒷자리 일이삼사오육칠",
        "주민번호 앞자리 ****** 뒷자리 *******",
    ),
    ("digits and spoken digits mixed", "010 구팔칠육 5432", "010-****-5432"),
    ("spoken card", "사일일일 일일일일 일일일일 일일일일", "****-****-****-1111"),
    ("full-width hyphens between spoken groups", "공일공－구팔칠육－오사삼이", "010-****-5432"),
    # --- e-mail addresses written out ------------------------------------------------------
    ("at ... dot", "hong.gildong at example dot com", "h***@example.com"),
    ("골뱅이 ... 닷", "hong 골뱅이 example 닷 com", "h***@example.com"),
    ("[at] [dot] co.kr", "hong [at] example [dot] co [dot] kr", "h***@example.co.kr"),
    ("(at) with a real dot", "hong(at)example.com", "h***@example.com"),
    ("닷컴", "메일은 hong 골뱅이 naver 닷컴 입니다", "메일은 h***@naver.com 입니다"),
    ("upper case", "HONG AT EXAMPLE DOT COM", "H***@example.com"),
    ("spoken dots in the local part", "hong dot gildong at example dot com", "h***@example.com"),
    # --- near-misses: must stay as they are --------------------------------------------------
    ("coupon validity (no card)", "쿠폰 유효기간 12/31까지", UNCHANGED),
    ("CVC explained", "CVC는 카드 뒷면 3자리 숫자예요", UNCHANGED),
    ("an experiment id", "card-exp-1227", UNCHANGED),
    ("card number failing Luhn", "4111111111111112", UNCHANGED),
    ("12 digits in groups", "4111.1111.1111", UNCHANGED),
    # no registration number, but each valid half after its label is one said alone (test_pii_fillers.py)
    ("RRN label, invalid month", "주민번호 앞자리 901301 뒷자리 1234567", "주민번호 앞자리 901301 뒷자리 *******"),
    (
        "RRN label, back group starts with 9",
        "주민번호 앞자리 900101 뒷자리 9234567",
        "주민번호 앞자리 ****** 뒷자리 9234567",
    ),
    ("주민 without a number label", "주민센터 방문 900101 접수 1234567", UNCHANGED),
    ("이사", "이사 갑니다", UNCHANGED),
    ("오사카", "오사카 여행", UNCHANGED),
    ("일이, 사이, 이어", "일이 많아서 사이에 이어서 합니다", UNCHANGED),
    ("일일이 삼삼오오", "일일이 삼삼오오 모여 구경했다", UNCHANGED),
    ("multiplication table", "구구단 이이사 이삼육 이사팔 이오십", UNCHANGED),
    ("spoken order number", "주문번호 팔팔사일 환불해 주세요", UNCHANGED),
    ("look at the dot com bubble", "look at the dot com bubble", UNCHANGED),
    ("at with a real dot only", "meet me at example.com", UNCHANGED),
    ("no known TLD", "we met at noon dot", UNCHANGED),
    ("date", "2024.01.15", UNCHANGED),
    ("date range", "2024/01/15 ~ 2024/02/15", UNCHANGED),
    ("two dates", "2024.01.15 2024.02.15", UNCHANGED),
    ("amount", "35,500원", UNCHANGED),
    ("large amount", "1,234,567,890원", UNCHANGED),
    ("full-width amount", "３５，５００원", UNCHANGED),
    ("order number", "주문번호 8841", UNCHANGED),
    ("tracking number (12 digits)", "운송장 412345678901", UNCHANGED),
    ("time", "14:30:00", UNCHANGED),
    ("version", "버전 1.2.3.4", UNCHANGED),
    ("IP address", "192.168.100.200", UNCHANGED),
    ("order id", "ORD-2024-0115-0001", UNCHANGED),
    ("representative number", "1588-1234", UNCHANGED),
    ("wave-dash range", "3〜5일 소요", UNCHANGED),
]


def check_row(label: str, text: str, expected: str | None) -> None:
    """One row of a masking table: ``expected`` is the masked text, or UNCHANGED (nothing found)."""
    masked = mask_text(text)
    if expected is UNCHANGED:
        assert detect(text) == [], label
        assert masked == text
    else:
        assert masked == expected, label
        assert detect(masked) == []  # nothing detectable is left
        assert mask_text(masked) == masked


def check_pre_screen(table: list[tuple[str, str, str | None]]) -> None:
    """The pre-screen lets every text of ``table`` that masks through, alone and inside JSON."""
    import json

    from core.pii import may_contain_pii

    for _, text, expected in table:
        if expected is not UNCHANGED:
            assert may_contain_pii(text), text
            assert may_contain_pii(json.dumps({"v": text}, ensure_ascii=False)), text


@pytest.mark.parametrize(("label", "text", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_table(label, text, expected):
    check_row(label, text, expected)


def test_the_table_is_large_and_has_near_misses():
    assert len(TABLE) >= 60
    assert sum(expected is UNCHANGED for _, _, expected in TABLE) >= 20


@pytest.mark.parametrize(
    ("variant", "typed"),
    [
        ("９００１０１－２３４５６７８", "900101-2345678"),
        ("０１０－５５５５－６６６６", "010-5555-6666"),
        ("공일공 구팔칠육 오사삼이", "010-9876-5432"),
        ("구공공일공일 일이삼사오육칠", "900101-1234567"),
        ("4111.1111.1111.1111", "4111111111111111"),
        ("010 - 9876 - 5432", "01098765432"),
        ("hong.gildong at example dot com", "hong.gildong@example.com"),
        ("hong 골뱅이 example 닷 com", "HONG@example.com"),
        ("ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "hong@example.com"),
    ],
)
def test_every_spelling_has_the_typed_values_hmac(variant, typed):
    """Exact-match search finds a value however it was written."""
    assert value_hmac(KEY, variant) == value_hmac(KEY, typed)
    assert redact({"q": f"고객 {variant} 입니다"}, key=KEY).hmacs == [value_hmac(KEY, typed)]


def test_spans_point_into_the_text_as_given():
    text = "연락처：０１０－５５５５－６６６６입니다"
    (match,) = detect(text)
    assert match.kind is PiiKind.PHONE and match.normalized == "01055556666"
    assert text[match.start : match.end] == match.text == "０１０－５５５５－６６６６"
    spoken = "제 번호는 공일공에 일이삼사 오육칠팔이요"
    (match,) = detect(spoken)
    assert match.text == "공일공에 일이삼사 오육칠팔" and match.normalized == "01012345678"
    wide = "a\u200bb 010\u200b1234\u200b5678 끝"  # a character dropped before the match
    (match,) = detect(wide)
    assert match.text == "010\u200b1234\u200b5678"


def test_kinds_of_the_new_values():
    text = "카드 4111111111111111 유효기간 12/27 cvc 987"
    assert [m.kind for m in detect(text)] == [PiiKind.CARD, PiiKind.CARD_EXPIRY, PiiKind.CVC]
    assert mask_text(text, style="tag") == "카드 [CARD] 유효기간 [CARD_EXPIRY] cvc [CVC]"
    assert [m.kind for m in detect("hong at example dot com")] == [PiiKind.EMAIL]
    halves = detect("주민번호 앞자리 900101 뒷자리 1234567")  # two halves, one value (one HMAC)
    assert [(m.kind, m.text, m.normalized) for m in halves] == [
        (PiiKind.RRN, "900101", "9001011234567"),
        (PiiKind.RRN, "1234567", "9001011234567"),
    ]
    assert len(redact({"q": "주민번호 앞자리 900101 뒷자리 1234567"}, key=KEY).hmacs) == 1


def test_cvc_and_expiry_are_masked_but_not_indexed():
    """A 3-digit HMAC would find every record with the same three digits: they are masked only."""
    result = redact({"note": "cvc 987, 카드 유효기간 12/27"}, key=KEY)
    assert result.value == {"note": "cvc ***, 카드 유효기간 **/**"}
    assert {f.kind for f in result.findings} == {PiiKind.CVC, PiiKind.CARD_EXPIRY}
    assert result.hmacs == []


def test_only_personal_data_knows_the_new_labels():
    assert only_personal_data("카드 4111111111111111 cvc 987")
    assert only_personal_data("주민등록번호는 900101 이고 뒷번호는 1234567")
    assert only_personal_data("공일공 구팔칠육 오사삼이")
    assert not only_personal_data("환불은 카드 결제 취소로 받기를 원함")


def test_short_values_reach_the_detector():
    """The short-text shortcut (no personal value fits) holds for the new forms too."""
    for text in ("cvc 987", "CVC:987", "cvv987", "보안코드 987", "ａ＠ｂ．ｃｏ", "ｃｖｃ ９８７"):
        assert not too_short_for_pii(text), text
        assert detect(text), text
    for text in ("", "8841", "shipped", "배송완료", "환불 요청", "ok", "KRW 100"):
        assert too_short_for_pii(text), text


def test_pre_screen_never_misses_the_new_forms():
    for _, text, expected in TABLE:
        if expected is not UNCHANGED:
            assert may_contain_pii(text), text
            assert may_contain_pii(json.dumps({"v": text}, ensure_ascii=False)), text


def test_text_around_a_value_is_kept_as_written():
    """Only the value's span is replaced: separators, full-width and decomposed text around it stay."""
    assert mask_text("tel 010-1234-5678, ok") == "tel 010-****-5678, ok"
    assert mask_text("전화：０１０－１２３４－５６７８（휴대폰）") == "전화：010-****-5678（휴대폰）"
    assert mask_text(nfd("연락처 공일공 구팔칠육 오사삼이 입니다")) == nfd("연락처 010-****-5432 입니다")
    assert luhn_ok("2221000000000009")  # the Mastercard 2-series number of the table


def test_audit_payload_copies_no_short_value():
    """audit.payload copies short strings without the detector (core.pii.too_short_for_pii): its
    output stays byte-identical with core.redaction.redact for short values too."""
    from audit.payload import redact_canonical
    from core.canonical import canonical_json

    value = {"a": "cvc 987", "b": "ａ＠ｂ．ｃｏ", "c": "보안코드987", "d": "CVV:1234", "e": "배송완료", "f": "shipped"}
    text, hmacs, _ = redact_canonical(value, KEY)
    assert text == canonical_json(redact(value, key=KEY).value).decode()
    assert "987" not in text and "1234" not in text and "ａ＠ｂ" not in text
    assert hmacs == redact(value, key=KEY).hmacs


# --- property: masking is a fixed point and leaves nothing detectable ------------------------

_FRAGMENTS = [
    "010-1234-5678", "01012345678", "010 - 9876 - 5432", "０１０－５５５５－６６６６", "공일공 구팔칠육 오사삼이",
    "900101-1234567", "９００１０１－２３４５６７８", "구공공일공일 일이삼사오육칠", "900101", "1234567",
    "4111111111111111", "4111.1111.1111.1111", "4111.2222.3333.4444", "5555 5555 5555 4444",
    "110-123-456789", "계좌 1002123456789", "hong@example.com", "hong at example dot com", "hong 골뱅이 naver 닷컴",
    "cvc", "CVC: ", "보안코드 ", "987", "1234", "유효기간 ", "12/27", "카드 ", "주민번호 ", "앞자리 ", "뒷자리 ",
    "이고 ", "에 ", "이요", "공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구", "영", "0", "1", "5", "9",
    " ", "-", ".", "/", "_", "*", "@", " at ", " dot ", "com", "이사", "오사카", "2024.01.15", "35,500원", "8841",
    "412345678901", "\u200b", "\u00a0", "－", "　", "⑩", "ef266e60-e043-4628-8014-12afb86e6913",
    # what NFKC changes beyond single characters: "1/4", "1日", jamo and marks that compose
    "¼", "㏠", "⑽", "ㅇ", "ㅣ", "ㅅ", "ㅏ", "ᄀ", "ᅩ", "ᆼ", "고", "A", "\u0300", "´",
    # what a hostile walk found stored raw (tests/core/test_pii_walk.py)
    "ㅡ", "~", "  ", "아멕스 ", "3756-123456-78901", "1234-5678-9012-3456", "kim.minsu", "gmail.com", "우리 ",
    "신한 ", "카뱅 ", "환불 ", "1002 123 456789", "3333 01 1234567", "110123456789", "8822 ",
    # groups said with fillers between (tests/core/test_pii_fillers.py)
    " 음 ", " 그리고 ", " 아 잠깐만요 ", "이고요 ", "이에요", "전화 ", "연락처 ", "계좌 ", "생년월일 ",
    "카드 앞 여덟자리 ", "천이백삼십사", "오천육백칠십팔", "구십", "공일공", "일이삼사", "오육칠팔", "5678", "9012",
    "3456", "010", "110 123",
    "456789", "주문번호 ", "원", "번", "김민수@네이버.com", "네이버", "@",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=3)), max_size=12).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.sampled_from(["partial", "tag"]))
def test_property_masking_is_idempotent_and_leaves_nothing_detectable(text, style):
    once = mask_text(text, style=style)
    assert detect(once) == [], (text, once)
    assert mask_text(once, style=style) == once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_property_spans_are_ordered_and_inside_the_text(text):
    found = detect(text)
    ends = 0
    for match in found:
        assert ends <= match.start < match.end <= len(text)
        assert text[match.start : match.end] == match.text
        ends = match.end


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(texts, texts.map(nfd)))
def test_property_nfkc_of_masked_text_reveals_nothing(text):
    """Search NFKC-normalises what is stored: masked text, normalised so, holds no value either."""
    masked = mask_text(text)
    assert detect(unicodedata.normalize("NFKC", masked)) == [], (text, masked)


# not "card": a condition, no gate
_ALL_GATES = frozenset({"email", "rrn", "account", "cvc", "expiry", "bank", "refund"})


def _ungated(text: str) -> list:
    """What the detectors find with every pre-screen open: no short-text or hint check, spoken
    digits always read, every word-gated rule run."""
    if text.isascii():
        folded, unsure = text, []
    else:
        from core.pii_folding import SPOKEN_MIN, folding, read_spoken_digits

        fold = folding()
        folded = fold.fold(text) if fold.any.search(text) else text
        need = 6 if pii._RRN_LABEL.search(folded) else SPOKEN_MIN
        folded, unsure = read_spoken_digits(folded, need) if not folded.isascii() else (folded, [])
    gate_words = pii._gate_words
    with mock.patch.object(pii, "_gate_words", lambda text: _ALL_GATES | gate_words(text)):
        return pii._matches(text, folded, unsure, False)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_property_pre_screens_never_hide_a_value(text):
    """The pre-screens (too_short_for_pii, the hints, the gates before spoken digits and before
    word-gated rules) only save time: they never hide a value the detectors would find."""
    found = detect(text)
    assert found == _ungated(text), text
    if found:
        assert may_contain_pii(text)


# --- real Korean text: no new detections --------------------------------------------------------


def _korquad() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    for base in (root.parent / "shared", root.parent.parent / "shared", Path("/work/shared")):
        path = base / "data" / "retrieval" / "KorQuAD_v1.0_dev.json"
        if path.is_file():
            return path
    return None


@pytest.mark.skipif(_korquad() is None, reason="KorQuAD dev set not found beside the repository")
def test_korean_wikipedia_holds_no_personal_data():
    """Every KorQuAD 1.0 dev paragraph and question (Korean Wikipedia: years, amounts, words such
    as 이사, 일이, 오사카, 사이, 이어) is left alone."""
    data = json.loads(_korquad().read_text(encoding="utf-8"))
    texts = [p["context"] for a in data["data"] for p in a["paragraphs"]]
    texts += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    found = [(m.kind.value, m.text) for t in texts for m in detect(t)]
    assert found == []


@pytest.mark.parametrize(
    ("said", "masked"),
    [
        ("010ㅡ1234ㅡ5678", "010-****-5678"),  # ㅡ: the dash key in Hangul mode (a hostile caller's walk)
        ("연락처는 010ㅡ9876ㅡ5432 예요", "연락처는 010-****-5432 예요"),
        ("카드 4111ㅡ1111ㅡ1111ㅡ1111", "카드 ****-****-****-1111"),
    ],
)
def test_the_hangul_mode_dash_separates_phone_and_card_groups(said: str, masked: str) -> None:
    assert mask_text(said) == masked
