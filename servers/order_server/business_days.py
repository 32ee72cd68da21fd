"""Business days in Korea: weekends and Korean public holidays are not business days.

The holiday table covers 2025-2027 (national holidays, lunar New Year and Chuseok, election
days and substitute holidays, as listed by the ``holidays`` package 0.108 for KR). Outside
those years only weekends are skipped; extend the table when a new year is announced.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")

_HOLIDAYS_BY_YEAR: dict[int, tuple[str, ...]] = {
    2025: (
        "01-01", "01-27", "01-28", "01-29", "01-30", "03-01", "03-03", "05-05", "05-06", "06-03",
        "06-06", "08-15", "10-03", "10-05", "10-06", "10-07", "10-08", "10-09", "12-25",
    ),
    2026: (
        "01-01", "02-16", "02-17", "02-18", "03-01", "03-02", "05-01", "05-05", "05-24", "05-25",
        "06-03", "06-06", "07-17", "08-15", "08-17", "09-24", "09-25", "09-26", "10-03", "10-05",
        "10-09", "12-25",
    ),
    2027: (
        "01-01", "02-06", "02-07", "02-08", "02-09", "03-01", "05-01", "05-03", "05-05", "05-13",
        "06-06", "07-17", "07-19", "08-15", "08-16", "09-14", "09-15", "09-16", "10-03", "10-04",
        "10-09", "10-11", "12-25", "12-27",
    ),
}  # fmt: skip

HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(f"{year}-{md}") for year, days in _HOLIDAYS_BY_YEAR.items() for md in days
)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (``start`` itself never counts)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current


def business_days_between(start: date, end: date) -> int:
    """Business days in (start, end]; 0 when ``end`` is not after ``start``."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_business_day(current):
            count += 1
    return count


def today_kst(now: datetime | None = None) -> date:
    return (now or datetime.now(KST)).astimezone(KST).date()
