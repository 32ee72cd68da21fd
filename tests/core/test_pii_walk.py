"""core/pii.py against the forms a hostile walk found stored raw: an Amex card in 4-6-5 groups, an
e-mail address said with a plain "at", account numbers after a bank name or in a refund request
with no 계좌/은행 word, a registration number split by "ㅡ", "~" or "_", a card with double spaces
and a labelled card number that fails the Luhn check.

Each row is a string and what :func:`core.pii.mask_text` makes of it (``UNCHANGED``: nothing is
personal data). The near-misses are the product's everyday numbers next to the same words: order
numbers, dates, amounts, times and phone numbers (which stay phone numbers).
"""

from __future__ import annotations

import pytest

from core.pii import PiiKind, detect
from core.redaction import redact, value_hmac
from tests.core.test_pii_formats import check_pre_screen, check_row

KEY = b"k" * 32
UNCHANGED = None

TABLE: list[tuple[str, str, str | None]] = [
    # --- 1. American Express, 4-6-5 ----------------------------------------------------------
    ("Amex 4-6-5, hyphens", "제 카드는 아멕스 3756-123456-78901 이에요", "제 카드는 아멕스 ****-****-****-8901 이에요"),
    ("Amex 4-6-5, spaces", "제 카드는 아멕스 3756 123456 78901 이에요", "제 카드는 아멕스 ****-****-****-8901 이에요"),
    ("Amex 4-6-5 after 아멕스 only", "아멕스 3756-123456-78901 이요", "아멕스 ****-****-****-8901 이요"),
    ("Amex 4-6-5, Luhn, no label", "3782 822463 10005", "****-****-****-0005"),
    ("Diners 4-6-4 after a card word", "카드 3056 930902 5904 입니다", "카드 ****-****-****-5904 입니다"),
    # --- 2. e-mail said with a plain "at" ----------------------------------------------------
    ("at, typed dot", "메일은 kim.minsu at gmail.com 으로 보내주세요", "메일은 k***@gmail.com 으로 보내주세요"),
    ("골뱅이, typed dot", "메일은 kim.minsu 골뱅이 gmail.com 으로 보내주세요", "메일은 k***@gmail.com 으로 보내주세요"),
    ("at, spoken dot", "메일은 kim.minsu at gmail dot com 으로 보내주세요", "메일은 k***@gmail.com 으로 보내주세요"),
    ("at, 닷컴", "hong at naver 닷컴", "h***@naver.com"),
    ("at, 닷 com", "메일 hong at naver 닷 com 이요", "메일 h***@naver.com 이요"),
    ("at, typed dot, digits in the name", "minsu88 at naver.com 이요", "m***@naver.com 이요"),
    ("at, typed dot, Korean sentence", "이메일 minsu at naver.com 입니다", "이메일 m***@naver.com 입니다"),
    ("at, co.kr", "hong_gd at daum.co.kr", "h***@daum.co.kr"),
    ("near miss: meet me at", "meet me at example.com", UNCHANGED),
    ("near miss: email me at", "email me at example.com", UNCHANGED),
    ("near miss: a site named in English", "Read more at wikipedia.org today", UNCHANGED),
    ("near miss: sentence break", "We stayed at home. com is short", UNCHANGED),
    ("near miss: a shop named in English", "buy them online at etsy.com", UNCHANGED),
    ("near miss: a model number in English", "Buy the iPhone12 at apple.com", UNCHANGED),
    ("near miss: a version", "Python 3.11 at python.org", UNCHANGED),
    # --- 3. account numbers after a bank name or in a refund request --------------------------
    ("우리, 4-3-6", "우리 1002 123 456789 로 환불해 주세요", "우리 **** *** **6789 로 환불해 주세요"),
    ("refund, 3-3-6", "환불은 110 123 456789 로 해주세요", "환불은 *** *** **6789 로 해주세요"),
    ("카뱅, 4-2-7", "카뱅 3333 01 1234567", "카뱅 **** ** ***4567"),
    ("농협, 3-4-4-2", "농협 302 1234 5678 91", "농협 *** **** **78 91"),
    ("신한, a bare run", "신한 110123456789 예요", "신한 ********6789 예요"),
    ("국민은, 6-2-6", "국민은 123456 78 901234 이에요", "국민은 ****** ** **1234 이에요"),
    ("refund, 3-6-5 after the number", "123 456789 12345 로 환불 부탁드려요", "*** ****** *2345 로 환불 부탁드려요"),
    ("토스뱅크, 4-4-4", "토스 1000 1234 5678 로 보내주세요", "토스 **** **** 5678 로 보내주세요"),
    ("near miss: refund of an order", "주문 8822 환불해 주세요", UNCHANGED),
    ("near miss: refund of three orders", "8822 8823 8824 환불해 주세요", UNCHANGED),
    ("near miss: 12-digit order number", "주문번호 110123456789 환불해 주세요", UNCHANGED),
    ("near miss: refund amount", "환불 금액 35,500원 맞나요", UNCHANGED),
    ("near miss: refund date and time", "환불 2026 11 20 14 30 에 됐어요", UNCHANGED),
    ("near miss: 우리 as 'our'", "우리 주문 8841 언제 와요", UNCHANGED),
    ("near miss: 하나 as 'one'", "하나 1000000000원 이에요", UNCHANGED),
    ("near miss: 우리 and a date", "우리 2026 11 20 에 주문했어요", UNCHANGED),
    ("near miss: 신한카드 and an amount", "신한카드 3개월 할부로 35,500원 결제했어요", UNCHANGED),
    ("near miss: refund time", "환불 요청 2026-11-20 14:30 접수", UNCHANGED),
    ("near miss: 하나 더", "하나 더 주문할게요 8841 이요", UNCHANGED),
    ("a card after 환불 계좌 is the card's", "환불 계좌 4000 0000 0000 006", "환불 계좌 ****-****-****-0006"),
    ("phone after a bank name stays a phone", "우리 010 1234 5678 로 연락 주세요", "우리 010-****-5678 로 연락 주세요"),
    ("phone in a refund request", "환불 되면 010 1234 5678 로 문자 주세요", "환불 되면 010-****-5678 로 문자 주세요"),
    # --- 4. registration number split by ㅡ, ~ or _ --------------------------------------------
    ("RRN, ㅡ", "900101ㅡ1234567", "******-*******"),
    ("RRN, ㅡ in a sentence", "제 번호는 900101ㅡ1234567 입니다", "제 번호는 ******-******* 입니다"),
    ("RRN, spaced ㅡ", "900101 ㅡ 1234567", "******-*******"),
    ("RRN, ~", "900101~1234567", "******-*******"),
    ("RRN, full-width ～", "900101～1234567", "******-*******"),
    ("RRN, _", "900101_1234567", "******-*******"),
    ("near miss: a file name", "log_240101_1234567.txt", UNCHANGED),
    ("near miss: a date range", "20240101~20240131", UNCHANGED),
    ("near miss: a short date range", "240101~240131", UNCHANGED),
    ("near miss: an emoticon", "ㅡㅡ 900101 이요", UNCHANGED),
    # --- 5. double spaces -------------------------------------------------------------------
    ("card, double spaces", "4111  1111  1111  1111", "****-****-****-1111"),
    ("card, double spaces in a sentence", "카드 4111  1111  1111  1111 이요", "카드 ****-****-****-1111 이요"),
    # --- 6. a labelled card number failing Luhn -------------------------------------------------
    ("labelled, not Luhn", "제 카드번호는 1234-5678-9012-3456 이고", "제 카드번호는 ****-****-****-3456 이고"),
    ("labelled, not Luhn, spaces", "카드 1234 5678 9012 3456", "카드 ****-****-****-3456"),
    ("near miss: unlabelled, not Luhn, starts with 1", "주문 1234-5678-9012-3456 확인", UNCHANGED),
    ("near miss: unlabelled 16 digits, not Luhn", "4111111111111112", UNCHANGED),
]


@pytest.mark.parametrize(("label", "text", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_table(label, text, expected):
    check_row(label, text, expected)


def test_pre_screen_never_misses_these_forms():
    check_pre_screen(TABLE)


def test_kinds():
    assert [m.kind for m in detect("아멕스 3756-123456-78901")] == [PiiKind.CARD]
    assert [m.kind for m in detect("카뱅 3333 01 1234567")] == [PiiKind.ACCOUNT]
    assert [m.kind for m in detect("900101ㅡ1234567")] == [PiiKind.RRN]
    assert [(m.kind, m.normalized) for m in detect("kim.minsu at gmail.com")] == [
        (PiiKind.EMAIL, "kim.minsu@gmail.com")
    ]
    (match,) = detect("신한 110123456789 예요")
    assert match.normalized == "110123456789"


@pytest.mark.parametrize(
    "value",
    ["1234-5678-9012-3456", "1234 5678 9012 3456", " 1234-5678-9012-3456 ", "3756-123456-78901"],
)
def test_a_labelled_card_can_be_searched_by_its_value(value):
    """`switchboard audit find --value` reads the value alone: what the masker took for a card next
    to its label is a card when it is the whole value, with the same keyed HMAC."""
    digits = "".join(ch for ch in value if ch.isdigit())
    (match,) = detect(value.strip())
    assert match.kind is PiiKind.CARD and match.normalized == digits
    stored = redact({"q": f"제 카드번호는 {value.strip()} 이고"}, key=KEY).hmacs
    assert stored == [value_hmac(KEY, value)]


def test_audit_find_accepts_a_labelled_card_value():
    from audit.store import _personal_value

    assert _personal_value("1234-5678-9012-3456") == "1234567890123456"


def test_a_card_shaped_value_in_a_sentence_without_a_label_is_left():
    assert detect("접수번호 1234-5678-9012-3456 입니다") == []
