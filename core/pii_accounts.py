"""Bank account numbers said without 계좌, 은행 or another account word: after a bank's name
("신한 110123456789 예요", "카뱅 3333 01 1234567", "농협 302 1234 5678 91") or in a refund request
("환불은 110 123 456789 로 해주세요"). :mod:`core.pii` adds what these find.

A Korean account number has 10-14 digits, in 2-4 groups as the bank prints them: 신한 110-123-456789
(3-3-6), 우리 1002-123-456789 (4-3-6), 국민 123456-78-901234 (6-2-6), 하나 123-456789-12345 (3-6-5),
농협 302-1234-5678-91 (3-4-4-2), 기업 123-123456-01-123 (3-6-2-3), 카카오뱅크 3333-01-1234567
(4-2-7), 토스뱅크 1000-1234-5678 (4-4-4), .... Written with dashes, any such number is an account
already (:mod:`core.pii`); said with spaces or as one run, it needs the words around it:

- after a bank name that is nothing else (신한, 국민, 농협, 카뱅, 토스, ...): any 10-14 digits in
  up to four groups, or as one run;
- after a bank name that is an everyday word too (우리 "we", 하나 "one", 기업 "company", city
  names): only the groups of a bank's layout, or one run of 13-14 digits (order numbers have up to
  twelve: "우리 주문 8841", "하나 1000000000원" stay);
- near 환불, 돌려받다, 반환 (30 characters either side): only the groups of a bank's layout, and
  not three groups of four ("8822 8823 8824 환불해 주세요" are three order numbers).

Never a number followed by a unit ("원", "개", "년", ...) or starting with a year and a month
("2026 11 20 14 30"). Phone numbers are found first (:mod:`core.pii`), so "우리 010 1234 5678"
stays a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# group lengths of the banks' layouts (dashes or spaces between)
LAYOUTS = frozenset(
    {
        (3, 2, 6),  # SC제일, 신한 (old), 신협
        (3, 3, 6),  # 신한, 케이뱅크
        (3, 2, 7),
        (4, 3, 6),  # 우리
        (3, 6, 5),  # 하나
        (3, 6, 3),  # 씨티
        (3, 4, 4, 2),  # 농협, 부산
        (3, 6, 2, 3),  # 기업, 우리 (old)
        (3, 2, 4, 3),  # 국민 (old)
        (3, 2, 6, 1),  # 대구
        (4, 2, 6, 1),  # 새마을금고
        (4, 2, 7),  # 카카오뱅크
        (6, 2, 6),  # 국민, 우체국, 농협
    }
)
_BANK_LAYOUTS = LAYOUTS | {(4, 4, 4)}  # 토스뱅크: after a bank name only

_PLAIN_BANKS = (
    "신한|국민|농협|카카오뱅크|카카오|카뱅|케이뱅크|케뱅|토스뱅크|토스|우체국|새마을금고|새마을|신협|수협|씨티"
    "|SC제일|KB|NH|IBK"
)
_WORD_BANKS = "우리|하나|기업|제일|부산|대구|광주|경남|전북|제주|산업|산은"
#: words that make :func:`bank_accounts` / :func:`refund_accounts` worth running (lower case; none
#: contains another gate word of core.pii: "카카오뱅크" is "카카오" and "뱅크")
BANK_GATE_WORDS = (
    "신한", "국민", "농협", "카카오", "카뱅", "케이", "케뱅", "토스", "우체국", "새마을", "신협", "수협", "씨티",
    "kb", "nh", "ibk", "우리", "하나", "기업", "제일", "부산", "대구", "광주", "경남", "전북", "제주", "산업", "산은",
)  # fmt: skip
REFUND_GATE_WORDS = ("환불", "돌려", "반환", "refund")

_PARTICLE = r"(?:은행|뱅크)?(?:이에요|예요|이요|이고|으로|요|로|[은는이가,:])?"
_NUMBER = r"(?<![0-9+*])(?P<number>\d{2,14}(?:(?: {1,2}|-)\d{1,7}){0,4})(?![0-9]|[-.,][0-9])"
_BANK = re.compile(
    rf"(?<![가-힣A-Za-z])(?:(?P<plain>(?i:{_PLAIN_BANKS}))|(?P<word>{_WORD_BANKS})){_PARTICLE}\s{{0,2}}{_NUMBER}"
)
_REFUND = re.compile(r"(?i:환불|돌려\s?받|돌려\s?주|반환|refund)")
_GROUPS = re.compile(
    r"(?<![0-9*])(?<![0-9*][-. ])(?<![0-9*]  )\d{2,6}(?: {1,2}\d{1,7}){1,3}(?![0-9]| {1,2}[0-9]|[-.,][0-9])"
)
_GROUP = re.compile(r"[0-9]+")
_UNIT = re.compile(r" ?(?:[원개건명년월일시분초번%만억천회차등위]|kg|km)")
_YEAR_MONTH = re.compile(r"(?:19|20)\d\d(?: {1,2}|-)(?:0?[1-9]|1[0-2])(?![0-9])")


def bank_accounts(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of each account number right after a bank's name."""
    for m in _BANK.finditer(text):
        start = m.start("number")
        groups = list(_GROUP.finditer(text, start, m.end("number")))
        if len(groups) == 1:
            digits = groups[0].group()
            if (13 if m["word"] else 10) <= len(digits) <= 14 and not _UNIT.match(text, groups[0].end()):
                yield start, groups[0].end(), digits
            continue
        if _YEAR_MONTH.match(text, start):
            continue
        best = None
        for n in range(2, min(len(groups), 4) + 1):  # the longest run of first groups that is one
            digits = "".join(g.group() for g in groups[:n])
            lengths = tuple(len(g.group()) for g in groups[:n])
            if 10 <= len(digits) <= 14 and (lengths in _BANK_LAYOUTS or (m["plain"] and 2 <= lengths[0] <= 6)):
                best = (groups[n - 1].end(), digits)
        if best and not _UNIT.match(text, best[0]):
            yield start, best[0], best[1]


def refund_accounts(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of each number in a bank's layout near a refund word."""
    for m in _GROUPS.finditer(text):
        lengths = tuple(len(g) for g in _GROUP.findall(m.group()))
        if lengths not in LAYOUTS or _UNIT.match(text, m.end()) or _YEAR_MONTH.match(text, m.start()):
            continue
        if _REFUND.search(text, max(0, m.start() - 30), min(len(text), m.end() + 30)):
            yield m.start(), m.end(), "".join(_GROUP.findall(m.group()))
