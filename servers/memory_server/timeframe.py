"""When a question names a time ("two weeks ago", "지난주에", "last Saturday", "3월에"), the window of
observation times it points at.

"What charity event did I take part in a month ago?" says nothing a keyword or a vector can find;
the memory it asks about ("I just did the Walk for Hunger today") was *observed* about a month
before the question. :func:`find_window` reads the first time expression of a question, relative
to the moment it is asked (the search's reference time: now, or the caller's), and returns the
span of ``observed_at`` it points at. The ranking then adds one more list: the memories observed
in that span, best by meaning (``ranking.window_list``). It is a list, not a filter: a window read
wrongly costs one list's vote, never the answer.

Windows are generous on purpose: people mention an event days after it happened ("I went to a
concert last Saturday"), timezones shift a day's edges, and "a month ago" is not a date. Every
window ends at the reference time at the latest. Expressions that ask for a duration ("how many
days ago did I…") name no time and give no window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Window:
    """A span of observation times (epoch seconds) and the words that named it."""

    start: float
    end: float
    phrase: str

    def covers(self, ts: float) -> bool:
        return self.start <= ts <= self.end

    def as_json(self) -> dict[str, str]:
        """What a result shows: the words, and the span they were read as (UTC)."""

        def iso(ts: float) -> str:
            return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

        return {"phrase": self.phrase, "from": iso(self.start), "to": iso(self.end)}


_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3, "several": 4,
    "한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
    "몇": 3,
}  # fmt: skip
_UNIT_DAYS = {
    "day": 1,
    "week": 7,
    "month": 30.44,
    "year": 365.25,
    "일": 1,
    "주": 7,
    "달": 30.44,
    "개월": 30.44,
    "년": 365.25,
}
_MONTHS_EN = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_NAMES = "|".join(_MONTHS_EN)
_WEEKDAYS_KO = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
_HOLIDAYS = {"valentine's day": (2, 14), "valentines day": (2, 14), "christmas": (12, 25), "크리스마스": (12, 25),
             "new year's day": (1, 1), "halloween": (10, 31), "할로윈": (10, 31), "화이트데이": (3, 14),
             "발렌타인데이": (2, 14), "어린이날": (5, 5)}  # fmt: skip

_EN_NUM = r"(?P<n>\d{1,3}|a couple of|a few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_EN_YEAR = r"(?:,?\s+(?:of\s+)?(?P<y>(?:19|20)\d\d)\b)?"  # "March 1974", "October 9, 2004"
_KO_YEAR = r"(?:(?P<y>(?:19|20)\d\d)\s*년\s*)?"  # "2009년 1월"
_KO_NUM = r"(?P<n>\d{1,3}|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|몇)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ago", re.compile(rf"\b{_EN_NUM}\s+(?P<unit>day|week|month|year)s?\s+ago\b", re.I)),
    ("ago", re.compile(rf"{_KO_NUM}\s*(?P<unit>일|주|달|개월|년)\s*전(?=$|[\s.,?!]|에|쯤|부터|까지|이|의)")),
    ("past", re.compile(rf"\b(?:past|last)\s+{_EN_NUM}\s+(?P<unit>day|week|month|year)s?\b", re.I)),
    ("past", re.compile(rf"(?:지난|최근)\s*{_KO_NUM}\s*(?P<unit>일|주|달|개월|년)")),
    ("past_few", re.compile(r"\b(?:past|last)\s+(?:few|couple of)\s+(?P<unit>day|week|month)s\b", re.I)),
    ("yesterday", re.compile(r"\byesterday\b|어제", re.I)),
    ("day_before", re.compile(r"\bthe day before yesterday\b|그저께|그제|엊그제", re.I)),
    ("today", re.compile(r"\b(?:earlier\s+)?today\b(?!'s)|\bthis morning\b|오늘(?!날)", re.I)),
    ("weekend", re.compile(r"\blast weekend\b|지난\s*주말", re.I)),
    ("weekday", re.compile(r"\blast\s+(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)),
    ("weekday", re.compile(r"지난\s*주?\s*(?P<wd>[월화수목금토일]요일)")),
    ("last_unit", re.compile(r"\blast\s+(?P<unit>week|month|year)\b", re.I)),
    ("last_unit", re.compile(r"(?:지난|저번)\s*(?P<unit>주|달|해)|(?P<unit2>작년)")),
    ("this_unit", re.compile(r"\bthis\s+(?P<unit>week|month|year)\b", re.I)),
    ("this_unit", re.compile(r"이번\s*(?P<unit>주|달)|(?P<unit2>올해)(?!의)")),
    ("date", re.compile(rf"\b(?P<m>{_MONTH_NAMES})\s+(?P<d>[12]\d|3[01]|[1-9])(?:st|nd|rd|th)?\b{_EN_YEAR}", re.I)),
    ("date", re.compile(rf"\b(?P<d>[12]\d|3[01]|[1-9])(?:st|nd|rd|th)?\s+of\s+(?P<m>{_MONTH_NAMES})\b{_EN_YEAR}",
                        re.I)),
    ("date", re.compile(rf"{_KO_YEAR}(?<!\d)(?P<m>1[0-2]|[1-9])\s*월\s*(?P<d>[12]\d|3[01]|[1-9])\s*일")),
    ("month", re.compile(rf"\b(?:in|during|on)\s+(?:early\s+|late\s+|mid-?)?(?P<m>{_MONTH_NAMES})\b{_EN_YEAR}", re.I)),
    ("month", re.compile(rf"{_KO_YEAR}(?<!\d)(?P<m>1[0-2]|[1-9])\s*월(?!\s*\d)")),
    ("holiday", re.compile("|".join(re.escape(h) for h in _HOLIDAYS), re.I)),
]  # fmt: skip


def _count(raw: str) -> int:
    raw = raw.lower()
    return int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _latest_year(ref: datetime, month: int, day: int = 1) -> int:
    """The year of the latest ``month``/``day`` at or before ``ref``."""
    return ref.year if (month, day) <= (ref.month, ref.day) else ref.year - 1


def _month_number(raw: str) -> int:
    """1-12 from an English month name or a Korean month's digits."""
    raw = raw.lower()
    return _MONTHS_EN.index(raw) + 1 if raw in _MONTHS_EN else int(raw)


def find_window(text: str, reference: datetime) -> Window | None:
    """The window of observation times the first time expression in ``text`` points at, or None."""
    ref = reference.astimezone(UTC) if reference.tzinfo else reference.replace(tzinfo=UTC)
    text = text.replace("\u2019", "'")
    matches = [(m, kind) for kind, pattern in _PATTERNS if (m := pattern.search(text))]
    if not matches:
        return None
    first = min(m.start() for m, _ in matches)
    end = min(m.end() for m, _ in matches if m.start() == first)
    # of the expressions that overlap the first one, the one reaching furthest ("on October 25th",
    # not "on October")
    match, kind = max(((m, k) for m, k in matches if m.start() < end), key=lambda mk: (mk[0].end(), -mk[0].start()))
    span = _span(kind, match, ref)
    if span is None:
        return None
    start, end = span
    end = min(end, ref)
    if end <= start:
        return None
    return Window(start.timestamp(), end.timestamp(), match.group(0).strip())


def _span(kind: str, match: re.Match[str], ref: datetime) -> tuple[datetime, datetime] | None:
    groups = match.groupdict()
    if kind == "ago":
        days = _count(groups["n"]) * _UNIT_DAYS[groups["unit"].lower()]
        slack = max(1.5, days * 0.25)
        centre = ref - timedelta(days=days)
        return centre - timedelta(days=slack), centre + timedelta(days=slack + 2)  # mentioned a little later
    if kind in ("past", "past_few"):
        n = _count(groups.get("n") or "a few")
        return ref - timedelta(days=n * _UNIT_DAYS[groups["unit"].lower()] + 1), ref
    if kind == "yesterday":
        day = _day_start(ref) - timedelta(days=1)
        return day - timedelta(hours=12), day + timedelta(days=2)
    if kind == "day_before":
        day = _day_start(ref) - timedelta(days=2)
        return day - timedelta(hours=12), day + timedelta(days=2)
    if kind == "today":
        return _day_start(ref) - timedelta(hours=12), ref
    if kind == "weekend":
        saturday = _day_start(ref) - timedelta(days=(ref.weekday() - 5) % 7 or 7)
        return saturday - timedelta(days=1), saturday + timedelta(days=4)
    if kind == "weekday":
        name = groups["wd"].lower()
        target = _WEEKDAYS_EN.index(name) if name in _WEEKDAYS_EN else _WEEKDAYS_KO.index(groups["wd"])
        day = _day_start(ref) - timedelta(days=(ref.weekday() - target) % 7 or 7)
        return day - timedelta(days=1), day + timedelta(days=3)
    if kind == "last_unit":
        unit = (groups.get("unit") or groups.get("unit2") or "").lower()
        if unit in ("week", "주"):
            monday = _day_start(ref) - timedelta(days=ref.weekday() + 7)
            return monday - timedelta(days=1), monday + timedelta(days=10)
        if unit in ("month", "달"):
            first = _month_start(ref.year, ref.month)
            previous = _month_start(first.year - (first.month == 1), (first.month - 2) % 12 + 1)
            return previous - timedelta(days=2), first + timedelta(days=10)
        return _month_start(ref.year - 1, 1) - timedelta(days=2), _month_start(ref.year, 1) + timedelta(days=20)
    if kind == "this_unit":
        unit = (groups.get("unit") or groups.get("unit2") or "").lower()
        if unit in ("week", "주"):
            return _day_start(ref) - timedelta(days=ref.weekday() + 1), ref
        if unit in ("month", "달"):
            return _month_start(ref.year, ref.month) - timedelta(days=1), ref
        return _month_start(ref.year, 1) - timedelta(days=1), ref
    if kind == "month":
        month = _month_number(groups["m"])
        year = int(groups["y"]) if groups.get("y") else _latest_year(ref, month)
        start = _month_start(year, month)
        following = _month_start(year + (month == 12), month % 12 + 1)
        return start - timedelta(days=2), following + timedelta(days=14)
    if kind in ("date", "holiday"):
        if kind == "holiday":
            (month, day), given = _HOLIDAYS[match.group(0).lower()], None
        else:
            month, day, given = _month_number(groups["m"]), int(groups["d"]), groups.get("y")
        latest = _latest_year(ref, month, day)
        years = [int(given)] if given else range(latest, latest - 8, -1)  # Feb 29: the last leap year's
        for year in years:
            try:
                moment = datetime(year, month, day, tzinfo=UTC)
            except ValueError:  # 2월 30일, or Feb 29 of a common year
                continue
            return moment - timedelta(days=1), moment + timedelta(days=7)
    return None
