"""Find and mask Korean personal data: the one PII detector every Switchboard package uses.

Kinds detected (:class:`PiiKind`): resident/foreigner registration numbers (주민·외국인등록번호),
mobile and landline phone numbers (domestic and +82 forms), card numbers (13-19 digits, Luhn
checked; a 4-4-4-4 number written in groups even without, and any number in a network's groups
right after 카드/card/아멕스; :mod:`core.pii_cards`), a card's CVC and (in text about a card) its
expiry date, bank account numbers (hyphenated 10-14 digits, a digit run next to a word such as
계좌/입금/account, or after a bank's name or near 환불: :mod:`core.pii_accounts`) and e-mail
addresses (:mod:`core.pii_email`).

What the detectors read. ASCII text is read as it is. Other text is first folded, character by
character: whatever NFKC makes ASCII is read as that ASCII (full-width ``０１０－１２３４``, circled
``①``, mathematical ``𝟏``, no-break and ideographic spaces, ``＠``), every other decimal digit as
its value (``٠١٢``), every dash and the minus sign as ``-``, middle dots as ``.``, invisible
characters (U+200B and the other format characters, variation selectors, Hangul fillers) as
nothing, and decomposed Hangul (NFD jamo) is composed into syllables: the product
NFKC-normalises text later (search), and a value must not come out of that in the clear. Then
runs of digits read out in Korean ("공일공 구팔칠육 오사삼이", nine or more digits; six after a
registration-number label) are read as digits. Values may be written with spaced separators
("010 - 9876 - 5432"), cards with any separator ("4111.1111…", "4111/…", "4111_…", double spaces,
mixed), registration numbers split by "ㅡ" (the dash key in Hangul mode), "~" or "_", or by words
after their label ("주민번호 앞자리 900101 뒷자리 1234567"), any of them in groups with fillers between
("카드 1234 5678 그리고 9012 3456", "010 천이백삼십사 오천육백칠십팔", "뒷자리는 1234567이요": a cue or a
shape decides, :mod:`core.pii_fillers`), e-mail addresses typed with Hangul ("김민수@네이버.com") and
written out ("hong at example dot com", "hong 골뱅이 naver 닷컴", "kim.minsu at gmail.com"; a bare
"at" needs a spoken "dot", or a mailbox-like name or a Korean sentence, and a known top-level domain).

Spans (:class:`PiiMatch` ``start``/``end``/``text``) are always in the text as given, so masked
output keeps everything around a value exactly as it was (a full-width sentence stays full-width);
the masks themselves are ASCII, made from the value as read (``PiiMatch.folded``).

The API is small:

- :func:`mask_text` — ``"연락처 010-1234-5678"`` → ``"연락처 010-****-5678"`` (for logs and storage);
- :func:`core.redaction.redact` — a masked deep copy of any JSON-like value (keys too) plus the
  findings, each with an optional keyed HMAC of the original so exact-match search stays possible;
  :func:`core.redaction.value_hmac` the same keyed HMAC for a value someone searches for (any
  spelling above gives the typed value's HMAC); :mod:`core.redaction` also holds the org's
  storage policy (what storage may keep);
- :func:`detect` — the raw matches (spans, kind, normalised value) for callers that need them;
- :func:`may_contain_pii` — a cheap pre-screen (False: certainly nothing to mask), and
  :func:`too_short_for_pii` for single short strings.

Masks never contain the original value: phone, card and account numbers keep at most their last
four digits, registration numbers, CVCs and expiry dates keep nothing, e-mail addresses keep the
first character and the domain. ``style="tag"`` replaces each value by a tag such as ``[PHONE]``
instead. CVCs and expiry dates are masked but get no HMAC (a search for three digits is no search).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from core.pii_accounts import BANK_GATE_WORDS, REFUND_GATE_WORDS, bank_accounts, refund_accounts
from core.pii_cards import CARD, FIRST_DIGIT, card_shaped_value, card_size, labelled_card
from core.pii_email import EMAIL, HANGUL_EMAIL, SPACED_AT, SPOKEN_EMAIL, hangul_email_mask, spoken_email
from core.pii_fillers import HINT as FILLER_HINT
from core.pii_fillers import filler_values, mask_part
from core.pii_folding import SPOKEN_MIN, folding, offsets, read_spoken_digits
from core.pii_prescreen import HINT_DIGITS, HINT_WORDS, UNITS_HINT, hint, hint_ascii, plain_at, too_short_for_pii

MaskStyle = Literal["partial", "tag"]


class PiiKind(StrEnum):
    """The kinds of personal data the detector knows."""

    RRN = "rrn"  # 주민등록번호 / 외국인등록번호
    PHONE = "phone"
    CARD = "card"
    ACCOUNT = "account"
    EMAIL = "email"
    CVC = "cvc"  # a card's security code: masked, never indexed
    CARD_EXPIRY = "card_expiry"  # a card's expiry date, in text about a card: masked, never indexed


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected value: where it is, what it is, and its normalised form (for HMACs).

    ``start``/``end``/``text`` are in the text as given; ``folded`` is the value as the detectors
    read it (``"010-5555-6666"`` for ``"０１０－５５５５－６６６６"``, digits for spoken ones).
    """

    kind: PiiKind
    start: int
    end: int
    text: str
    normalized: str
    folded: str = ""
    #: a part of a value said in groups apart (:mod:`core.pii_fillers`): what its mask keeps, "h" the
    #: phone's area code at its head, "t" the last four at its tail, "-" nothing; "" for a whole value
    part: str = ""


# --- reading the text: one folded copy every detector reads (core/pii_folding.py) --------------


def _read(text: str) -> tuple[str, list[tuple[int, int, list[str]]], bool]:
    """(``text`` as the detectors read it, unsure spoken runs, whether it may hold a value: see
    :func:`may_contain_pii`), for non-ASCII text.

    Where characters fold to more or fewer than one (⑩, U+200B), positions differ from the
    text's: :func:`offsets` maps them back.
    """
    fold = folding()
    folded = fold.fold(text) if fold.any.search(text) else text
    if folded.isascii():
        return folded, [], hint(folded)
    units = UNITS_HINT.search(folded) is not None
    unsure: list[tuple[int, int, list[str]]] = []
    if units or (("주민" in folded or "외국인" in folded) and _RRN_LABEL.search(folded)):
        need = 6 if _RRN_LABEL.search(folded) else SPOKEN_MIN  # six digits after a label
        folded, unsure = read_spoken_digits(folded, need)
    hinted = bool(units and HINT_DIGITS.search(folded)) or HINT_WORDS.search(folded.lower()) is not None
    return folded, unsure, hinted or plain_at(folded) or FILLER_HINT.search(folded) is not None


# --- patterns (they read folded text: ASCII digits, "-" for every dash) ------------------------

# The first digit of a number: not right after another digit, nor after a mask's stars
# ("*********6789", "010-****-5678"): the digits a mask keeps must not join the text next to them
# into a new value when masked text is read again. A star or two is markdown ("**010-…**").
# Patterns start with the digit and look behind it, a form the regular expression engine scans fast.
# YYMMDD-GNNNNNN; G (1-8) encodes century, sex and citizenship. The check digit is not required:
# numbers issued since October 2020 have none. The halves may be split by a dash ("-", or "ㅡ" as
# the dash key types in Hangul mode: U+1173 once folded), a dot, "~", "_" or spaces; "_" not
# inside an identifier ("log_240101_1234567.txt" is a file name).
_RRN_SEP = r"(?: ?[-.~_\u1173] ?| {1,2})"
_RRN = re.compile(rf"{FIRST_DIGIT}[0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]){_RRN_SEP}?[1-8][0-9]{{6}}(?![0-9])")
_RRN_SHAPE = re.compile(rf"\d{{6}}{_RRN_SEP}?\d{{7}}")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
# After a registration-number label the two halves may be apart: "주민번호 앞자리 900101 뒷자리
# 1234567", "주민등록번호는 900101 이고 뒷번호는 1234567", "앞 6자리는 900101, 뒤 7자리는 ...".
_RRN_LABEL = re.compile(r"주민\s*(?:등록)?\s*번호|주민\s*등록|외국인\s*등록\s*번호")
_RRN_GAP = r"(?:[^0-9*]|\*{1,2}(?!\*)|\d\s*자리)"  # markdown's "**", but not across a mask ("******")
_RRN_SPLIT = re.compile(
    rf"(?:{_RRN_LABEL.pattern}){_RRN_GAP}{{0,20}}?(?<![0-9])(\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?![0-9])"
    rf"{_RRN_GAP}{{1,20}}?(?<![0-9])([1-8]\d{{6}})(?![0-9])"
)
# A card's CVC (always masked: card rules forbid keeping it, even alone) and its expiry (masked
# when the text is about a card: "쿠폰 유효기간 12/31" is a coupon's date).
_CVC = re.compile(
    r"(?:(?<![A-Za-z])(?i:cvc2?|cvv2?)(?![A-Za-z])|보안\s*코드|씨브이[씨브이]{1,2})"
    r"(?:[^0-9*_\n]|\*{1,2}(?!\*)){0,15}?(?<![0-9])(\d{3,4})(?![0-9]|\*\*\*|[-./][0-9*])"
)
_EXPIRY = re.compile(
    r"(?:유효\s*기간|만료\s*(?:일자?|기간|날짜|월)?"
    r"|(?<![A-Za-z])(?i:exp(?:iry|iration)?(?:\s*date)?|valid\s*(?:thru|through|until))(?![A-Za-z]))"
    r"(?:[^0-9*_\-\n]|\*{1,2}(?!\*)){0,12}?(?<![0-9/])((?:0[1-9]|1[0-2]) ?/ ?(?:20)?\d{2}|(?:0[1-9]|1[0-2])\d{2})"
    r"(?![0-9/]|\*\*\*)"
)
# Mobile 01x, area codes 02/031-064, 070 (VoIP), 050x (safe numbers); +82 / 0082 / 82- forms.
# Parts may be split by "-", "." or spaces, with spaces around ("010 - 9876 - 5432").
# "ㅡ" is the dash key in Hangul mode (U+1173 once folded): "010ㅡ1234ㅡ5678" was stored raw
_PSEP = r"(?: {0,2}(?:[-.\u1173]|다시) {0,2}| {1,2})?"  # 다시: a dash read out ("010 다시 9876 다시 5432")
_PHONE = re.compile(  # cc: "+82", "0082", "82-", "(0" or "0", each a first character and what follows it
    r"(?P<cc>[+08(](?<![0-9+].)(?<!\*\*\*.)(?<!\*-.)"
    r"(?:(?<=\+)82[-. ]?(?:\(0\))?|(?<=0)082[-. ]?(?:\(0\))?|(?<=8)2[-. ]|(?<=\()0|(?<=0)))"
    rf"(?P<area>1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])\)?{_PSEP}"
    rf"(?P<mid>\d{{3,4}}){_PSEP}(?P<last>\d{{4}})(?![0-9]|-[0-9*])"  # "010-1234-5678-90" is an account
)
_ACCOUNT_HYPHENATED = re.compile(
    r"[0-9](?<![0-9A-Za-z\-].)(?<!\*\*\*.)[0-9]{1,5}(?:-[0-9]{2,7}){1,3}(?![0-9A-Za-z]|-[0-9*])"
)
_ACCOUNT_WORDS = r"계좌|입금|송금|이체|환불계좌|예금주|은행|뱅크|account|acct|bank|iban"
_ACCOUNT_AFTER_WORD = re.compile(rf"(?i:{_ACCOUNT_WORDS})[^0-9]{{0,20}}?(?<![0-9+])(\d{{10,14}})(?![0-9])")
# "환불계좌 신한 110 123 456789": groups apart by spaces after the word, 10-14 digits in all
_ACCOUNT_SPACED_AFTER_WORD = re.compile(
    rf"(?i:{_ACCOUNT_WORDS})[^0-9]{{0,20}}?(?<![0-9+])(\d{{2,8}}(?: {{1,2}}\d{{2,8}}){{1,4}})(?![0-9]|[-.][0-9])"
)
_ACCOUNT_KEY = re.compile(rf"(?i:{_ACCOUNT_WORDS}|account_?(?:no|num|number)?)")
# a number spoken or typed digit by digit: nine or more single digits, each pair apart by a space
# or by one dash, dot or comma with spaces or none ("0 1 0 …", "0-1-0-…", "0, 1, 0, …")
_DIGIT_GAP = r"(?: ?[-.,] ?| )"
_SPACED_DIGITS = re.compile(
    rf"(?<![0-9][-., ])(?<![0-9] [-.,])(?<![0-9][-.,] )(?<![0-9])[0-9](?:{_DIGIT_GAP}[0-9]){{8,}}"
    rf"(?![0-9]|{_DIGIT_GAP}[0-9])"
)
_DIGIT_RUN = re.compile(r"[0-9](?<![0-9].)[0-9]{9,13}(?![0-9])")
# Identifiers that only look like numbers in places: UUIDs (``ef266e60-e043-4628-8014-…`` holds
# "043-4628-8014", a phone number's shape) and hex digests or ids of 16+ characters with a letter.
# Their spans are never personal data, so session, trace and record ids are never masked.
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,})(?![0-9A-Za-z])"
)
# Words some rules need, found in one pass over the lower-cased text (literal-first alternatives
# are scanned fast): a rule whose words are absent is not run. "card" is no gate but a condition:
# the text is about a card (an expiry date is masked only then).
_GATE_WORDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(["dot", "골뱅이", "앳", "닷"], frozenset({"email"})),
    **dict.fromkeys(["주민", "외국인"], frozenset({"rrn"})),
    **dict.fromkeys(
        ["계좌", "입금", "송금", "이체", "예금주", "은행", "뱅크", "account", "acct", "bank", "iban"],
        frozenset({"account"}),
    ),
    **dict.fromkeys(["cvc", "cvv", "보안", "씨브이"], frozenset({"cvc", "card"})),
    **dict.fromkeys(["카드", "card", "아멕스", "amex"], frozenset({"card"})),
    **dict.fromkeys(["유효", "만료", "exp", "valid"], frozenset({"expiry"})),
    **dict.fromkeys(BANK_GATE_WORDS, frozenset({"bank"})),
    **dict.fromkeys(REFUND_GATE_WORDS, frozenset({"refund"})),
}
_BRACKET_AT = frozenset({"email"})  # "[at", "(at", ...
_NO_WORDS: frozenset[str] = frozenset()
_GATE = re.compile("|".join(_GATE_WORDS) + r"|\[\s*at|\(\s*at|\{\s*at|<\s*at")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _phone_normalized(m: re.Match[str]) -> str:
    return "0" + m["area"] + m["mid"] + m["last"]


def may_contain_pii(text: str) -> bool:
    """A cheap pre-screen: False guarantees :func:`detect` finds nothing in ``text``.

    Every kind needs an "@", a run of nine digits or one of a few words (see ``_hint``); run it
    over a whole serialised payload to skip walking payloads that hold no personal data at all.
    """
    if text.isascii():
        return hint(text)
    return _read(text)[2]


def detect(text: str, *, context: str | None = None) -> list[PiiMatch]:
    """Every personal value in ``text``, in order, without overlaps.

    Spans are in ``text`` as given; ``PiiMatch.folded`` is the value as it was read (ASCII
    digits for full-width or spoken ones). ``context`` is the name of the field the text came
    from (a JSON key): a field named like an account (계좌, account_no, ...) makes a bare 10-14
    digit run count as an account number.
    """
    n = len(text)
    if n < 9 and (not n or too_short_for_pii(text)):
        return []
    is_ascii = text.isascii()
    if is_ascii and not (  # _hint, inlined
        hint_ascii(text) or "dot" in text or "DOT" in text or "Dot" in text or plain_at(text)
    ):
        return []
    account_context = bool(context and _ACCOUNT_KEY.search(context))
    short = n <= 64
    if is_ascii:
        if short and (text, account_context) in _CLEAN:
            return []
        found = [
            PiiMatch(k, s, e, text[s:e], normalized, read, part)
            for k, s, e, normalized, read, part in _detect(text, account_context)
        ]
    else:
        if short and (text, account_context) in _CLEAN:
            return []
        folded, unsure, hinted = _read(text)
        found = _matches(text, folded, unsure, account_context) if hinted else []
    if not found and short:  # remember values known to hold no personal data only
        if len(_CLEAN) >= 4096:
            _CLEAN.clear()
        _CLEAN[(text, account_context)] = None
    return found


_CLEAN: dict[tuple[str, bool], None] = {}
# kind, start, end (in the folded text), normalized, as read, which part of a value said in parts
_Found = tuple[PiiKind, int, int, str, str, str]


def _matches(text: str, folded: str, unsure: list[tuple[int, int, list[str]]], account_context: bool) -> list[PiiMatch]:
    found = _detect(folded, account_context)
    for start, end, others in unsure:  # a spoken run whose ends are unsure: its other readings
        for other in others:
            trial = _detect(folded[:start] + other + folded[end:], account_context)
            if any(f[1] < end and start < f[2] for f in trial):  # this reading finds something there
                extra = [f for f in trial if all(f[2] <= s or f[1] >= e for _, s, e, *_ in found)]
                found = sorted([*found, *extra], key=lambda f: f[1])
                break
    spans = offsets(text) if found and folded is not text else None
    if spans is None:
        return [PiiMatch(kind, s, e, text[s:e], normalized, read, part) for kind, s, e, normalized, read, part in found]
    out: list[PiiMatch] = []
    for kind, start, end, normalized, read, part in found:
        start, end = spans[0][start], spans[1][end - 1]
        if out and start < out[-1].end:  # both read from one character ("¼" is "1/4"): it is the first's
            start = out[-1].end
        if start < end:
            out.append(PiiMatch(kind, start, end, text[start:end], normalized, read, part))
    return out


def _detect(text: str, account_context: bool) -> list[_Found]:
    found: list[_Found] = []
    words = _gate_words(text)
    # spans taken so far, apart and in order (ids are not PII): a new one is free when it ends
    # before the next one starts and starts after the one before ends
    starts: list[int] = []
    ends: list[int] = []
    for m in _HEX_ID.finditer(text):
        starts.append(m.start())
        ends.append(m.end())

    def free(start: int, end: int) -> bool:
        i = bisect.bisect_right(starts, start)
        return not ((i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end))

    def add(kind: PiiKind, start: int, end: int, normalized: str, part: str = "") -> None:
        if free(start, end):
            i = bisect.bisect_right(starts, start)
            starts.insert(i, start)
            ends.insert(i, end)
            found.append((kind, start, end, normalized, text[start:end], part))

    if "@" in text:
        for m in EMAIL.finditer(text):
            add(PiiKind.EMAIL, m.start(), m.end(), m.group().lower())
        if not text.isascii():
            for m in HANGUL_EMAIL.finditer(text):  # "김민수@네이버.com"
                if not m.group().isascii():
                    add(PiiKind.EMAIL, m.start(), m.end(), m.group().lower())
    if "email" in words or ("@" in text and ("닷" in text or "점" in text or SPACED_AT.search(text))) or plain_at(text):
        for m in SPOKEN_EMAIL.finditer(text):
            address = spoken_email(m)
            if address:
                add(PiiKind.EMAIL, m.start(), m.end(), address)
    rrns = [m for m in _RRN.finditer(text) if "_" not in m.group() or not _in_identifier(text, m.start(), m.end())]
    for m in rrns:  # written with a separator: certainly a registration number
        if not m.group().isdigit():
            add(PiiKind.RRN, m.start(), m.end(), _digits(m.group()))
    if "rrn" in words:
        for m in _RRN_SPLIT.finditer(text):  # "주민번호 앞자리 900101 뒷자리 1234567": the label decides
            if free(*m.span(1)) and free(*m.span(2)):  # two matches, the words between stay as written
                add(PiiKind.RRN, m.start(1), m.end(1), m[1] + m[2])
                add(PiiKind.RRN, m.start(2), m.end(2), m[1] + m[2])
    if "account" in words:
        for m in _ACCOUNT_AFTER_WORD.finditer(text):  # "계좌 1002123456789": the word decides
            add(PiiKind.ACCOUNT, m.start(1), m.end(1), m.group(1))
        for m in _ACCOUNT_SPACED_AFTER_WORD.finditer(text):
            if len(_digits(m[1])) > 14 and card_size(text, m.start(1), m.end(1)) == len(m[1]):
                continue  # "환불 계좌 4000 0000 0000 006": a card's groups, no account and the rest
            if span := _account_groups(m):
                add(PiiKind.ACCOUNT, m.start(1), span[0], span[1])
    if account_context:
        for m in _DIGIT_RUN.finditer(text):
            add(PiiKind.ACCOUNT, m.start(), m.end(), m.group())
    for m in rrns:
        add(PiiKind.RRN, m.start(), m.end(), _digits(m.group()))
    for m in CARD.finditer(text):
        size = card_size(text, m.start(), m.end())
        if size:
            add(PiiKind.CARD, m.start(), m.start() + size, _digits(m.group()[:size]))
        elif "card" in words and m.group().isdigit() and 13 <= len(m.group()) <= 19:
            add(PiiKind.CARD, m.start(), m.end(), m.group())  # "카드 4518421234567890": the word decides
        elif ("card" in words and labelled_card(text, m.start(), m.end())) or card_shaped_value(
            text, m.start(), m.end()
        ):
            add(PiiKind.CARD, m.start(), m.end(), _digits(m.group()))
    for m in _PHONE.finditer(text):
        add(PiiKind.PHONE, m.start(), m.end(), _phone_normalized(m))
    for m in _ACCOUNT_HYPHENATED.finditer(text):
        digits = _digits(m.group())
        if 10 <= len(digits) <= 14:
            add(PiiKind.ACCOUNT, m.start(), m.end(), digits)
    if "bank" in words:  # "신한 110123456789", "카뱅 3333 01 1234567": after phone numbers, which stay so
        for start, end, digits in bank_accounts(text):
            add(PiiKind.ACCOUNT, start, end, digits)
    if "refund" in words:  # "환불은 110 123 456789 로 해주세요"
        for start, end, digits in refund_accounts(text):
            add(PiiKind.ACCOUNT, start, end, digits)
    for m in _SPACED_DIGITS.finditer(text):  # "0 1 0 9 8 7 6 5 4 3 2", as speech recognition writes it
        value = _spaced_value(_digits(m.group()), words, account_context)
        if value is not None:
            add(value[0], m.start(), m.end(), value[1])
    if "cvc" in words:
        for m in _CVC.finditer(text):
            add(PiiKind.CVC, m.start(1), m.end(1), m[1])
    if "expiry" in words and ("card" in words or any(f[0] is PiiKind.CARD for f in found)):
        for m in _EXPIRY.finditer(text):
            add(PiiKind.CARD_EXPIRY, m.start(1), m.end(1), _digits(m[1]))
    if not text.isascii():  # "카드 1234 5678 그리고 9012 3456": groups said apart (core/pii_fillers.py)
        for kind, parts, value in filler_values(text):
            if all(free(start, end) for start, end, _ in parts):
                for start, end, part in parts:
                    add(PiiKind(kind), start, end, value, part)
    found.sort(key=lambda f: f[1])
    return found


def _in_identifier(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` is glued to letters, digits or "_" on either side."""
    return bool(
        (start and _IDENTIFIER_CHAR.match(text, start - 1)) or (end < len(text) and _IDENTIFIER_CHAR.match(text, end))
    )


def _account_groups(m: re.Match[str]) -> tuple[int, str] | None:
    """(end, digits) of the longest run of the match's first groups that holds 10-14 digits: an
    account number said in groups, maybe followed by another number ("… 456789 010 1234 5678")."""
    best, digits = None, ""
    for group in re.finditer(r"\d+", m.group(1)):
        digits += group.group()
        if len(digits) > 14:
            break
        if len(digits) >= 10:
            best = (m.start(1) + group.end(), digits)
    return best


def _spaced_value(digits: str, words: Set[str], account_context: bool) -> tuple[PiiKind, str] | None:
    """What a number spoken digit by digit is, read as one number (None: nothing personal)."""
    whole = [f for f in _detect(digits, account_context) if f[1] == 0 and f[2] == len(digits)]
    if whole:
        return whole[0][0], whole[0][3]
    if "card" in words and 13 <= len(digits) <= 19:
        return PiiKind.CARD, digits
    if ("account" in words or account_context) and 10 <= len(digits) <= 14:
        return PiiKind.ACCOUNT, digits
    return None


def _gate_words(text: str) -> Set[str]:
    """The rules :data:`_GATE` finds words for in ``text`` ("email", "cvc", ...)."""
    low = text.lower()
    if not _GATE.search(low):
        return _NO_WORDS
    return frozenset().union(*(_GATE_WORDS.get(m.group(), _BRACKET_AT) for m in _GATE.finditer(low)))


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
    """The masked form of one match (ASCII, made from the value as read)."""
    if style == "tag":
        return f"[{match.kind.value.upper()}]"
    n = match.normalized
    read = match.folded or match.text
    if match.kind is PiiKind.EMAIL:
        if EMAIL.fullmatch(read):
            local, _, domain = read.partition("@")
            return f"{local[:1]}***@{domain}"
        if "@" in read and not read.isascii():  # typed with Hangul: "김민수@네이버.com"
            return hangul_email_mask(n)
        return f"{read[:1]}***@{n.partition('@')[2]}"  # written out: "hong at example dot com"
    if match.kind is PiiKind.RRN:  # or one half of one split by words ("****** 뒷자리 *******")
        return "******-*******" if _RRN_SHAPE.fullmatch(read) else "*" * len(read)
    if match.part and match.kind in _PARTED:
        # a part of a value said in groups ("1234 5678 그리고 9012 3456"), or a labelled part of a card
        return mask_part(read, n, match.part, _phone_parts(n)[0] if match.kind is PiiKind.PHONE else "")
    if match.kind is PiiKind.PHONE:
        area, last = _phone_parts(n)
        prefix = "+82-" + area[1:] if read.lstrip("(").startswith(("+", "00", "82")) else area
        return f"{prefix}-{'*' * (len(n) - len(area) - 4)}-{last}"
    if match.kind is PiiKind.CARD:
        return f"****-****-****-{n[-4:]}"
    if match.kind is PiiKind.CVC:
        return "*" * len(n)
    if match.kind is PiiKind.CARD_EXPIRY:
        return "**/**"
    return _keep_last(read, 4)


_PARTED = frozenset({PiiKind.CARD, PiiKind.PHONE, PiiKind.ACCOUNT})


def _phone_parts(normalized: str) -> tuple[str, str]:
    if normalized.startswith("02"):
        area = "02"
    elif normalized.startswith("050"):
        area = normalized[:4]
    else:
        area = normalized[:3]
    return area, normalized[-4:]


def mask_text(
    text: str,
    *,
    style: MaskStyle = "partial",
    context: str | None = None,
    keep: frozenset[PiiKind] = frozenset(),
    keep_landlines: bool = False,
) -> str:
    """``text`` with every personal value masked (see :func:`mask_match`), except the kinds in ``keep``
    and, with ``keep_landlines``, phone numbers that are not mobile ones (a company's published
    numbers in its knowledge base: ``+82-2-0000-0000``, ``02-123-4567``; mobile numbers are masked).

    The result holds nothing :func:`detect` finds (but the kept kinds), so masking it again
    changes nothing: masked text is read again until it is so (see :data:`MAX_PASSES`).
    """
    matches = detect(text, context=context)
    passes = 1
    while True:
        if keep:
            matches = [m for m in matches if m.kind not in keep]
        if keep_landlines:
            matches = [m for m in matches if not _landline(m)]
        if not matches:
            return text
        parts, pos = [], 0
        for m in matches:
            parts.append(text[pos : m.start])
            parts.append(mask_match(m, style=style))
            pos = m.end
        parts.append(text[pos:])
        text = "".join(parts)
        if passes == MAX_PASSES:
            return text
        matches = detect(text, context=context)
        passes += 1


def _landline(match: PiiMatch) -> bool:
    """A phone number that is not a Korean mobile one (01x), read from the value's digits."""
    if match.kind is not PiiKind.PHONE:
        return False
    digits = re.sub(r"\D", "", match.folded or match.text)
    national = "0" + digits[2:] if digits.startswith("82") else digits
    return not national.startswith("01")


#: Masked text is read again, for values it only shows once a neighbour is masked: an account
#: number glued to an e-mail address ("a@b.com010-1234-5678010") is no account next to the letter
#: "m", but is next to the "]" of "[EMAIL]". Every pass masks something, and masks only shorten
#: values, so this ends; in ordinary text one pass finds everything and a second finds nothing.
MAX_PASSES = 4
