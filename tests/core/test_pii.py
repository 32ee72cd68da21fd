"""core/pii.py: Korean personal data is found, masked everywhere, and HMAC'd for exact search."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.pii import PiiKind, contains_pii, detect, mask_text, may_contain_pii
from core.pii_cards import luhn_ok
from core.redaction import redact, value_hmac

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("연락처 010-1234-5678 로 주세요", PiiKind.PHONE, "연락처 010-****-5678 로 주세요"),
        ("전화는010.1234.5678입니다", PiiKind.PHONE, "전화는010-****-5678입니다"),
        ("01012345678", PiiKind.PHONE, "010-****-5678"),
        ("+82 10-1234-5678", PiiKind.PHONE, "+82-10-****-5678"),
        ("+821012345678", PiiKind.PHONE, "+82-10-****-5678"),
        ("011-123-4567", PiiKind.PHONE, "011-***-4567"),
        ("02-123-4567", PiiKind.PHONE, "02-***-4567"),
        ("(02) 1234-5678", PiiKind.PHONE, "02-****-5678"),
        ("031 123 4567", PiiKind.PHONE, "031-***-4567"),
        ("070-1234-5678", PiiKind.PHONE, "070-****-5678"),
        ("주민번호 900101-1234567", PiiKind.RRN, "주민번호 ******-*******"),
        ("외국인 8507155123456", PiiKind.RRN, "외국인 ******-*******"),
        ("카드 4111-1111-1111-1111", PiiKind.CARD, "카드 ****-****-****-1111"),
        ("4111 1111 1111 1111", PiiKind.CARD, "****-****-****-1111"),
        ("9430123412341233", PiiKind.CARD, "****-****-****-1233"),
        ("378282246310005", PiiKind.CARD, "****-****-****-0005"),
        ("신한 110-123-456789", PiiKind.ACCOUNT, "신한 ***-***-**6789"),
        ("국민 123456-01-123456", PiiKind.ACCOUNT, "국민 ******-**-**3456"),
        ("환불계좌: 1002123456789", PiiKind.ACCOUNT, "환불계좌: *********6789"),
        ("입금 계좌번호는 12345678901 입니다", PiiKind.ACCOUNT, "입금 계좌번호는 *******8901 입니다"),
        ("메일 hong.gildong@example.co.kr 로", PiiKind.EMAIL, "메일 h***@example.co.kr 로"),
        ("Kim+cs@Mail.Example.com", PiiKind.EMAIL, "K***@Mail.Example.com"),
    ],
)
def test_detects_and_masks(text, kind, masked):
    found = detect(text)
    assert [m.kind for m in found] == [kind]
    assert mask_text(text) == masked
    assert found[0].text not in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "주문번호 8841",
        "ORD-2024-11-21",
        "2024-11-21 10:30:00",
        "환불 금액 12,000원",
        "order 12345678901",  # a bare digit run is not an account without a bank word
        "4111111111111112",  # fails Luhn
        "1588-1234",  # a company's representative number
        "version 1.2.3",
        "trace 6f1c5a1e5b7a4f1e9a550a7b1c2d3e4f",
        "123e4567-e89b-12d3-a456-426614174000",
        "",
    ],
)
def test_leaves_ordinary_text_alone(text):
    assert detect(text) == []
    assert mask_text(text) == text
    assert not contains_pii(text)


def test_several_values_in_one_text_and_tag_style():
    text = "고객 010-1234-5678, 메일 a@b.co, 카드 4111111111111111"
    assert [m.kind for m in detect(text)] == [PiiKind.PHONE, PiiKind.EMAIL, PiiKind.CARD]
    assert mask_text(text, style="tag") == "고객 [PHONE], 메일 [EMAIL], 카드 [CARD]"


def test_masking_is_idempotent():
    text = "010-1234-5678 / 900101-1234567 / 4111-1111-1111-1111 / 110-123-456789 / x@y.kr"
    once = mask_text(text)
    assert mask_text(once) == once


def test_account_context_from_the_field_name():
    assert detect("1234567890") == []
    assert [m.kind for m in detect("1234567890", context="refund_account")] == [PiiKind.ACCOUNT]
    assert redact({"계좌": "1234567890"}).value == {"계좌": "******7890"}


def test_an_account_that_starts_like_a_phone_number_is_masked_whole():
    """Found by the property test below: "010-0000-0000-00" (a 3-4-4-2 account) was read as the
    phone "010-0000-0000" plus "-00", which left 10 of its 13 digits in the masked text."""
    for text in ("환불 계좌 010-1234-5678-90", "010-1234-5678-90 입니다"):
        (match,) = detect(text)
        assert match.kind is PiiKind.ACCOUNT and match.text == "010-1234-5678-90"
        assert "5678-90" not in mask_text(text)
    assert [m.kind for m in detect("연락처 010-1234-5678-")] == [PiiKind.PHONE]  # a dash alone changes nothing


def test_redact_walks_nested_values_keys_and_numbers():
    value = {
        "customer": {"phone": "010-1234-5678", "tags": ("vip", "hong@example.com")},
        "010-9999-8888": [1, {"card": 4111111111111111}],
        "amount": 12000,
        "ratio": 0.5,
        "ok": True,
        "none": None,
    }
    result = redact(value, key=KEY)
    out = json.dumps(result.value, ensure_ascii=False)
    for raw in ("010-1234-5678", "hong@example.com", "010-9999-8888", "4111111111111111"):
        assert raw not in out
    assert result.value["amount"] == 12000 and result.value["ratio"] == 0.5 and result.value["ok"] is True
    assert result.value["customer"]["tags"][0] == "vip"
    assert {f.kind for f in result.findings} == {PiiKind.PHONE, PiiKind.EMAIL, PiiKind.CARD}
    assert "$.customer.phone" in {f.path for f in result.findings}
    assert all(f.hmac and len(f.hmac) == 64 for f in result.findings)
    assert len(result.hmacs) == 4


def test_redact_without_key_has_no_hmacs_and_leaves_input_unchanged():
    value = {"phone": "010-1234-5678"}
    result = redact(value)
    assert value == {"phone": "010-1234-5678"}
    assert result.findings[0].hmac is None and result.hmacs == []


def test_hmac_matches_across_spellings_and_depends_on_the_key():
    spellings = ["010-1234-5678", "01012345678", "+82 10 1234 5678", "010.1234.5678"]
    assert len({value_hmac(KEY, s) for s in spellings}) == 1
    assert value_hmac(KEY, "HONG@example.com") == value_hmac(KEY, "hong@example.com")
    assert value_hmac(KEY, "010-1234-5678") != value_hmac(b"x" * 32, "010-1234-5678")
    stored = redact({"q": "연락처 +82-10-1234-5678"}, key=KEY).hmacs
    assert stored == [value_hmac(KEY, "010-1234-5678")]


def test_pre_screen_never_misses_what_detect_finds():
    assert not may_contain_pii('{"order_id":"ORD-8841","items":[1,2,3],"total":12000}')
    for text in ("a@b.co", "010-1234-5678", "(02) 123-4567", '{"n":4111111111111111}', "+82 10 1234 5678"):
        assert may_contain_pii(text)


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


# --- property: generated Korean PII never survives redaction --------------------------------------


def _luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        if luhn_ok(prefix + last):
            return prefix + last
    raise AssertionError


digits = st.text("0123456789", min_size=1, max_size=1)
sep = st.sampled_from(["-", "", " ", "."])


@st.composite
def phone(draw) -> str:
    s = draw(sep)
    head = draw(st.sampled_from(["010", "011", "016", "02", "031", "051", "064", "070"]))
    mid = draw(st.text("0123456789", min_size=4 if head.startswith("01") else 3, max_size=4))
    last = draw(st.text("0123456789", min_size=4, max_size=4))
    if draw(st.booleans()) and head.startswith("01"):
        return f"+82{s}{head[1:]}{s}{mid}{s}{last}"
    return f"{head}{s}{mid}{s}{last}"


@st.composite
def rrn(draw) -> str:
    yy = draw(st.integers(0, 99))
    mm = draw(st.integers(1, 12))
    dd = draw(st.integers(1, 28))
    back = draw(st.sampled_from("12345678")) + draw(st.text("0123456789", min_size=6, max_size=6))
    return f"{yy:02d}{mm:02d}{dd:02d}{draw(st.sampled_from(['-', '']))}{back}"


@st.composite
def card(draw) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "94", "36"])) + draw(
        st.text("0123456789", min_size=13, max_size=13)
    )
    number = _luhn_complete(prefix[:15])
    if draw(st.booleans()):
        s = draw(st.sampled_from(["-", " "]))
        return s.join(number[i : i + 4] for i in range(0, 16, 4))
    return number


@st.composite
def account(draw) -> str:
    shape = draw(st.sampled_from([(3, 3, 6), (4, 3, 6), (6, 2, 6), (3, 6, 5), (3, 4, 4, 2)]))
    return "-".join(draw(st.text("0123456789", min_size=n, max_size=n)) for n in shape)


email = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=12).filter(lambda u: u[0].isalnum()),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10),
    st.sampled_from(["com", "co.kr", "kr", "net"]),
)
_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
_SPOKEN = str.maketrans("0123456789", "공일이삼사오육칠팔구")
# words of three letters or more that a written-out address is not read across ("look at the dot com")
_FILLERS = {"the", "your", "our", "his", "her", "their", "this", "that", "dot"}
_WORD = st.from_regex(r"[a-z]{3,8}", fullmatch=True).filter(lambda w: w not in _FILLERS)


@st.composite
def hostile(draw) -> str:
    """The spellings a hostile tester stored raw: full-width, spoken, any separator, written out."""
    shape = draw(st.sampled_from(["full-width", "spoken phone", "dotted card", "spaced phone", "spoken e-mail"]))
    if shape == "full-width":
        return draw(st.one_of(phone(), rrn(), card())).translate(_FULL_WIDTH)
    groups = [draw(st.text("0123456789", min_size=4, max_size=4)) for _ in range(2)]
    if shape == "spoken phone":
        return f"010 {groups[0]} {groups[1]}".translate(_SPOKEN)
    if shape == "spaced phone":
        return f"010 - {groups[0]} - {groups[1]}"
    if shape == "dotted card":
        number = draw(card()).replace("-", "").replace(" ", "")
        return ".".join(number[i : i + 4] for i in range(0, 16, 4))
    return f"{draw(_WORD)}.{draw(_WORD)} at {draw(_WORD)} dot com"


pii_value = st.one_of(phone(), rrn(), card(), account(), email, hostile())
korean = st.sampled_from(["연락처", "고객님 번호는", "환불 계좌", "카드번호", "메일 주소", "주민등록번호", "", "문의:"])


@st.composite
def pii_in_text(draw) -> tuple[str, str]:
    value = draw(pii_value)
    glue = draw(st.sampled_from([" ", "", ": "]))
    return f"{draw(korean)}{glue}{value}{draw(st.sampled_from(['', ' 입니다', '입니다.', ' ']))}", value


def raw_forms(value: str) -> set[str]:
    """The value as written and its bare digits (for numbers)."""
    forms = {value}
    bare = "".join(c for c in value if c.isdigit())
    if "@" not in value and len(bare) >= 9:
        forms.add(bare)
    return forms


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pii_in_text(), min_size=1, max_size=4), st.sampled_from(["flat", "nested", "key"]))
def test_property_no_generated_pii_survives(cases, shape):
    texts = [text for text, _ in cases]
    if shape == "flat":
        value: object = texts
    elif shape == "nested":
        value = {"a": {"b": [{"c": t} for t in texts]}, "n": [[texts[0]]]}
    else:
        value = {t: i for i, t in enumerate(texts)}
    result = redact(value, key=KEY)
    out = json.dumps(result.value, ensure_ascii=False)
    assert all(may_contain_pii(text) for text in texts)
    for _, raw in cases:
        for form in raw_forms(raw):
            assert form not in out, (raw, out)
        assert value_hmac(KEY, raw) in result.hmacs


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.uuids(), st.sampled_from(["{u}", "{h}", "ses_{h}", "trace {u} 끝", "sha256:{h}{h}"]))
def test_identifiers_are_never_personal_data(value, template):
    text = template.format(u=str(value), h=value.hex)
    assert detect(text) == []
    assert mask_text(text) == text


def test_personal_data_next_to_an_identifier_is_still_found():
    session = "ef266e60-e043-4628-8014-12afb86e6913"  # holds a phone number's shape
    text = f"세션 {session} 고객 010-1234-5678 카드 4111111111111111"
    kinds = [m.kind for m in detect(text)]
    assert kinds == [PiiKind.PHONE, PiiKind.CARD]
    assert session in mask_text(text) and "1234-5678" not in mask_text(text)
