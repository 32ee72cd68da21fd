"""Numbers said in groups with words between them, as speech recognition writes a caller's turn:
"카드 1234 5678 그리고 9012 3456", "전화번호 010 음 1234 음 5678", "공일공 일이삼사 음 오육칠팔",
"010이고요 1234 5678이에요", "010 천이백삼십사 오천육백칠십팔" (sino-Korean groups), "계좌 110 123 그리고
456789", "생년월일 900101 뒷자리 1234567", a labelled half ("주민번호 앞자리는 900101", "뒷자리는
1234567이요") and a labelled part of a card ("카드 앞 여덟자리 1234 5678"). :mod:`core.pii` adds what
:func:`filler_values` finds, after every other rule.

A group is typed digits, digits read out ("공일공", "일이삼사") or a sino-Korean number ("천이백삼십사"
1234, "구십" 90), standing alone: not glued to a letter, a unit ("8822번", "3일", "35,500원", "3개월")
or another word, though a particle may follow ("010이고요", "5678이에요"). Between two groups of one
value: separators (spaces, "-", ".", 다시), or fillers (음, 어, 아, 그리고, 잠깐만요, 다음, 이고요,
position words such as 앞은 or 뒷자리는, commas). Said so, groups are numbers of every kind (order
numbers, amounts, dates), so they make a value only:

- with a cue in the same sentence: the nearest label before them (카드, 전화/연락처/핸드폰/휴대폰/폰,
  계좌/입금/은행 or a bank's name, 주민/외국인등록/생년월일, 뒷자리) or a label just after them, with
  no order or tracking word (주문, 운송장, 송장, 승인번호, 금액, ...) between; and only when the digits
  make that value, split where its parts are (:func:`_fits`): a card's 4-4-4-4 (4-6-5, 4-6-4), a
  phone's area, exchange and last four, an account in a bank's layout (:data:`core.pii_accounts.LAYOUTS`),
  a registration number's date and 7 digits, or one of its halves after its label;
- or by their shape alone: 01x as a group, then groups that make a mobile number; 4-4-4-4 typed
  groups passing Luhn with a filler between.

Each run of groups between fillers is one match (the fillers stay as said), all with the value's
digits as ``normalized``; :func:`core.pii.mask_match` masks such a part digit by digit.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import NamedTuple

from core.pii_accounts import LAYOUTS
from core.pii_cards import luhn_ok

# the digits as said in Korean (공/영 0 … 구 9, 륙 for 육), and their values: one table for every reader
SPOKEN_DIGITS = "공영일이삼사오육륙칠팔구"
SPOKEN_VALUES = "001234566789"
_SPOKEN_DIGITS = dict(zip(SPOKEN_DIGITS, SPOKEN_VALUES, strict=True))
_NINE = "일이삼사오육륙칠팔구"
# chars a masked part stars: digits, digits read out, sino-Korean place words
VALUE_CHARS = frozenset("0123456789공영일이삼사오육륙칠팔구십백천")
_TOKEN = re.compile(r"[0-9]+|[공영일이삼사오육륙칠팔구십백천]+")
_SINO = re.compile(rf"(?:([{_NINE}])?(천))?(?:([{_NINE}])?(백))?(?:([{_NINE}])?(십))?([{_NINE}])?")
_PARTICLE = (
    r"(?:이에요|이예요|예요|에요|이요|이구요|이고요|이고|이구|고요|구요|입니다|이며|이랑|이나|인데요|인데|이야"
    r"|요|에|은|는|이|가|을|를|으로|로|도|만|하고|랑)"
)
_PARTICLE_AT = re.compile(_PARTICLE)
# a unit after a group, a space apart: "1234 원", "3 개월" (glued, any word but a particle breaks)
_SPACED_UNIT = re.compile(r"\s(?:[원개건명년월시분초번호차층회위세살장권만억박일]|kg|km)(?![가-힣])")
_AMOUNT = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_HANGUL = re.compile(r"[가-힣]")
_SEP_GAP = re.compile(r"\s{1,2}|\s{0,2}(?:-|\.|다시)\s{0,2}")
_FILLER_WORDS = (
    "음+|어+|아+|으+|에+|엄|흠|그|저|저기|저기요|그리고|그리구|그리고요|그다음|그 다음|다음|다음은|다음에|다음에는"
    "|잠깐|잠깐만|잠깐만요|잠시|잠시만|잠시만요|그러니까|그니까|뭐더라|뭐였지|뭐지|아니|아니다|아니요|네|예|하고|다시"
    "|앞은|앞에는|앞자리|앞자리는|뒤는|뒤에는|뒷자리|뒷자리는|끝자리|끝자리는|끝은|나머지|나머지는|중간|중간은|마지막|마지막은"
)
_FILLER_GAP = re.compile(rf"(?:{_PARTICLE})?(?:[\s,~…!?]+|\.{{2,}}|(?<![가-힣])(?:{_FILLER_WORDS})(?![가-힣]))*")
_SENTENCE_END = re.compile(r"[.!?。]+(?=\s|\Z)|\n")
# labels: the kind of value each one announces ("word": a bank named by an everyday word, only
# right before its number; "back": 뒷자리, a registration number's back half or another value's)
_CUE = re.compile(
    r"(?P<card>카드|(?i:card|amex)|아멕스)"
    r"|(?P<phone>전화|연락처|핸드폰|휴대폰|폰|(?i:phone|mobile))"
    r"|(?P<account>계좌|입금|송금|이체|예금주|은행|(?i:account|acct|iban))"
    r"|(?P<bank>뱅크|(?i:bank)|신한|국민|농협|카카오|카뱅|케이뱅크|케뱅|토스|우체국|새마을|신협|수협|씨티|(?-i:SC|KB|NH|IBK))"
    r"|(?P<word>우리|하나|기업|제일|부산|대구|광주|경남|전북|제주|산업|산은)"
    r"|(?P<rrn>주민\s*(?:등록)?\s*번호|주민\s*등록|외국인\s*등록|생년월일)"
    r"|(?P<back>뒷자리|뒷번호)"
    r"|(?P<block>주문|운송장|송장|택배|배송|상품|모델|쿠폰|포인트|금액|가격|할부|우편|사업자|접수|예약|회원|승인"
    r"|영수증|티켓|(?i:order|tracking|invoice|ticket|receipt))"
)
_POSITION = re.compile(r"앞|뒤|뒷|끝")
_BACK_FIRST = re.compile(r"(?:끝|뒷|뒤)[^0-9]{0,8}\Z")
_FRONT = re.compile(r"앞")
# what the text must hold for any rule here to find something (core.pii's pre-screen asks this)
HINT = re.compile(_CUE.pattern + r"|(?<![0-9])01[016789](?![0-9])|공일[공영일육륙칠팔구]|[0-9]{4}[^0-9]{1,30}[0-9]{4}")
_MAX_GROUPS = 8
_YEAR_MONTH = re.compile(r"(?:19|20)[0-9]{2}(?:0?[1-9]|1[0-2])")
_CARD_BOUNDARIES = (frozenset({4, 8, 12}), frozenset({4, 10}))  # 4-4-4-4 and 4-6-5 / 4-6-4
# (where a bank's layout splits, digits in all)
_ACCOUNT_LAYOUTS = [(frozenset(itertools.accumulate(layout[:-1])), sum(layout)) for layout in LAYOUTS]
_TOSS_LAYOUT = (frozenset({4, 8}), 12)  # 토스뱅크 4-4-4: after a bank's name only
_PHONE_DIGITS = re.compile(r"0(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])[0-9]{7,8}")
_MOBILE_DIGITS = re.compile(r"010[0-9]{8}|01[16789][0-9]{7,8}")


class _Group(NamedTuple):
    start: int
    end: int
    readings: tuple[str, ...]  # its digits, first the likelier reading
    typed: bool  # typed digits (not read out)


def filler_values(text: str) -> Iterator[tuple[str, list[tuple[int, int, str]], str]]:
    """(kind, its parts, digits) of each value said in groups; kind is a :class:`core.pii.PiiKind`
    value, each part (start, end, what its mask keeps: see ``core.pii.PiiMatch.part``)."""
    if not HINT.search(text):
        return
    chains = _chains(text)
    if not chains:
        return
    cues = [(m.start(), m.end(), m.lastgroup) for m in _CUE.finditer(text)]
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text)]
    for chain, gaps in chains:
        i = 0
        while i < len(chain):
            for j in range(min(len(chain), i + _MAX_GROUPS), i, -1):
                found = _value(text, chain[i:j], gaps[i : j - 1], cues, bounds)
                if found:
                    yield found
                    i = j
                    break
            else:
                i += 1


def _groups(text: str) -> list[_Group]:
    amounts = [m.span() for m in _AMOUNT.finditer(text)] if "," in text else []
    out = []
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        if any(a <= start < b for a, b in amounts):
            continue  # "35,500"
        before = text[start - 1] if start else " "
        if (before.isascii() and before.isalpha()) or before in "*_#@$₩":
            continue  # "ORD8841", "A1234", a mask's stars
        if before in "-./:" and start > 1:
            prev = text[start - 2]
            if (prev.isascii() and prev.isalpha()) or (before in "/:" and prev.isdigit()):
                continue  # "ORD-2024", "12/31", "14:30"
        if m.group()[0].isdigit():
            group = _typed(text, start, end)
        elif _HANGUL.match(before) or before.isdigit():
            continue  # read out but glued to a word or to typed digits: "메일공일공", "3일"
        else:
            group = _spoken(text, start, end)
        if group:
            out.append(group)
    return out


def _typed(text: str, start: int, end: int) -> _Group | None:
    after = text[end : end + 1]
    if (after.isascii() and after.isalpha()) or (after and after in "*%:/_@₩$"):
        return None
    if _HANGUL.match(after) and not _PARTICLE_AT.match(text, end):
        return None  # "8822번", "3일", "12월", "3개월"
    if after == "," and text[end + 1 : end + 2].isdigit():
        return None
    if _SPACED_UNIT.match(text, end):
        return None  # "1234 원"
    return _Group(start, end, (text[start:end],), True)


def _spoken(text: str, start: int, end: int) -> _Group | None:
    token = text[start:end]
    after = text[end : end + 1]
    if _HANGUL.match(after):
        if token.endswith("이") and len(token) > 2 and _PARTICLE_AT.match(text, end - 1):
            token = token[:-1]  # "오육칠팔이요": 이 starts the particle
        elif not _PARTICLE_AT.match(text, end):
            return None
    elif after.isdigit() or (after.isascii() and after.isalpha()):
        return None
    reading = _read(token)
    return _Group(start, start + len(token), (reading,), False) if reading else None


def _read(token: str) -> str | None:
    """The digits a spoken token says: digit by digit, or a sino-Korean number (10-9999)."""
    if len(token) < 2:
        return None
    if not any(ch in "십백천" for ch in token):
        return "".join(_SPOKEN_DIGITS[ch] for ch in token)
    m = _SINO.fullmatch(token)
    if not m:
        return None
    value = 0
    for digit, place, unit in ((m[1], m[2], 1000), (m[3], m[4], 100), (m[5], m[6], 10)):
        if place:
            value += (int(_SPOKEN_DIGITS[digit]) if digit else 1) * unit
    value += int(_SPOKEN_DIGITS[m[7]]) if m[7] else 0
    return str(value) if value >= 10 else None


def _chains(text: str) -> list[tuple[list[_Group], list[bool]]]:
    """Runs of groups one value may span, and for each gap whether it holds a filler."""
    chains: list[tuple[list[_Group], list[bool]]] = []
    chain: list[_Group] = []
    fillers: list[bool] = []
    for group in _groups(text):
        if chain:
            gap = text[chain[-1].end : group.start]
            if gap and _SEP_GAP.fullmatch(gap):
                chain.append(group)
                fillers.append(False)
                continue
            if gap and len(gap) <= 24 and _FILLER_GAP.fullmatch(gap):
                chain.append(group)
                fillers.append(True)
                continue
            chains.append((chain, fillers))
        chain, fillers = [group], []
    if chain:
        chains.append((chain, fillers))
    return [c for c in chains if len(c[0]) > 1 or len(c[0][0].readings[0]) >= 6]


def _sentence(bounds: list[int], start: int, end: int) -> tuple[int, int]:
    left = max((b for b in bounds if b <= start), default=0)
    right = min((b for b in bounds if b >= end), default=bounds[-1])
    return left, right


def _value(
    text: str, groups: list[_Group], fillers: list[bool], cues: list[tuple[int, int, str]], bounds: list[int]
) -> tuple[str, list[tuple[int, int, str]], str] | None:
    start, end = groups[0].start, groups[-1].end
    left, right = _sentence(bounds, start, end)
    before = [c for c in cues if left <= c[0] and c[1] <= start]
    after = [c for c in cues if end <= c[0] and c[1] <= right and c[0] - end <= 12]
    labels: list[tuple[str, int]] = []  # (kind, where the label ends)
    for _, c_end, kind in reversed(before):
        if kind == "block":
            break
        if kind == "word" and start - c_end > 4:
            continue
        labels.append((kind, c_end))
    blocked = bool(before) and before[-1][2] == "block"
    for c_start, _, kind in after:
        if kind == "block":
            break
        if kind not in ("word", "back"):
            labels.append((kind, c_start))
            break
    readings = [g.readings for g in groups]
    combos = list(itertools.islice(itertools.product(*readings), 4))
    for digits_by_group in combos:
        lengths = [len(d) for d in digits_by_group]
        digits = "".join(digits_by_group)
        boundaries = frozenset(itertools.accumulate(lengths[:-1]))
        for kind, label_end in labels:
            between = text[label_end:start] if label_end <= start else ""
            normalized = _fits(kind, digits, boundaries, lengths, between)
            if normalized:
                kind = {"word": "account", "bank": "account", "back": "rrn"}.get(kind, kind)
                if (
                    kind == "card"
                    and _BACK_FIRST.search(between)
                    and fillers
                    and _FRONT.search(text[groups[0].end : groups[1].start])
                ):
                    normalized = digits[lengths[0] :] + digits[: lengths[0]]  # "끝자리 3456 앞은 1234 …"
                    return kind, _parts(kind, groups, fillers, normalized, rotated=True), normalized
                return kind, _parts(kind, groups, fillers, normalized), normalized
        if blocked:
            continue
        if (  # a mobile number by its shape: 01x, then its groups
            digits_by_group[0] in ("010", "011", "016", "017", "018", "019")
            and _MOBILE_DIGITS.fullmatch(digits)
            and boundaries <= {3, len(digits) - 4}
        ) or (
            lengths == [4, 4, 4, 4]
            and any(fillers)
            and all(g.typed for g in groups)
            and digits[0] in "3456789"
            and luhn_ok(digits)
        ):
            kind = "phone" if digits[0] == "0" else "card"
            return kind, _parts(kind, groups, fillers, digits), digits
    return None


def _fits(kind: str, digits: str, boundaries: frozenset[int], lengths: list[int], between: str) -> str | None:
    """``digits`` when, split at ``boundaries``, they make a value of ``kind`` (None: they do not)."""
    n = len(digits)
    if kind == "card":
        if digits[:2] in ("19", "20") and lengths[0] == 4:
            return None  # a year ("카드 결제 2024 1203 그리고 …"); no card starts 19xx or 20xx
        if _POSITION.search(between) and 6 <= n <= 12 and min(lengths) >= 4:
            return digits  # "카드 앞 여덟자리 1234 5678": a labelled part
        if n == 16 and boundaries <= _CARD_BOUNDARIES[0]:
            return digits
        if n in (14, 15) and boundaries <= _CARD_BOUNDARIES[1]:
            return digits
        return None
    if kind == "phone":
        if not _PHONE_DIGITS.fullmatch(digits):
            return None
        area = 2 if digits.startswith("02") else 4 if digits.startswith("050") else 3
        return digits if boundaries <= {area, n - 4} and (n == 11 or not digits.startswith("010")) else None
    if kind in ("account", "bank", "word"):
        if not 10 <= n <= 14 or len(lengths) < 2 or (_YEAR_MONTH.match(digits) and lengths[:2] in ([4, 2], [4, 1])):
            return None
        layouts = _ACCOUNT_LAYOUTS + ([_TOSS_LAYOUT] if kind == "bank" else [])
        return digits if any(boundaries <= b and n == total for b, total in layouts) else None
    if kind in ("rrn", "back"):
        if n == 13 and (not boundaries or 6 in boundaries) and _birth_date(digits[:6]) and digits[6] in "12345678":
            return digits
        if n == 7 and len(lengths) == 1 and digits[0] in "12345678":
            return digits  # "뒷자리는 1234567이요"
        if n == 6 and kind == "rrn" and len(lengths) == 1 and _birth_date(digits):
            return digits  # "주민번호 앞자리는 900101"
    return None


def _birth_date(six: str) -> bool:
    month, day = int(six[2:4]), int(six[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31


def _parts(
    kind: str, groups: list[_Group], fillers: list[bool], digits: str, *, rotated: bool = False
) -> list[tuple[int, int, str]]:
    """The parts to mask: each run of groups between fillers (a phone's area code alone stays),
    with what its mask keeps: a phone's area code at the head, the last four of a whole value at
    its tail (of the first run when the last group was said first), nothing of a labelled part."""
    runs: list[list[_Group]] = [[groups[0]]]
    for group, filler in zip(groups[1:], fillers, strict=True):
        if filler:
            runs.append([group])
        else:
            runs[-1].append(group)
    tail = 0 if rotated else len(runs) - 1
    whole = not (kind == "card" and len(digits) < 13)  # a labelled part of a card keeps nothing
    parts = []
    for i, run in enumerate(runs):
        if kind == "phone" and i == 0 and len(run) == 1 and len(run[0].readings[0]) <= 3:
            continue
        keep = ("h" if i == 0 and kind == "phone" else "") + ("t" if i == tail and whole else "")
        parts.append((run[0].start, run[-1].end, keep or "-"))
    return parts


def mask_part(read: str, value: str, keep: str, area: str) -> str:
    """A part of ``value`` as it was said (``read``), masked: every digit, typed or read out, a
    star, but (``keep``) a typed area code ``area`` at its head ("h") and the value's typed last four
    at its tail ("t"), what a whole value's mask keeps."""
    out = ["*" if ch in VALUE_CHARS else ch for ch in read]
    at = [i for i, ch in enumerate(read) if ch in VALUE_CHARS]
    if "h" in keep and area and "".join(read[i] for i in at[: len(area)]) == area:
        for i in at[: len(area)]:  # "010 1234" of "010 1234 음 5678"
            out[i] = read[i]
    if "t" in keep and "".join(read[i] for i in at[-4:]) == value[-4:]:
        for i in at[-4:]:
            out[i] = read[i]
    return "".join(out)
