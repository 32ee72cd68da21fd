"""Parse the times the CLI accepts: a date, an ISO time, or an age such as 7d, 12h, 30m, 2w."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from audit.record import utc_timestamp

_AGE = re.compile(r"^(\d{1,6})\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, now: datetime | None = None) -> str:
    """The UTC timestamp (as stored in ``occurred_at``) for ``text``; raises ValueError."""
    text = text.strip()
    age = _AGE.match(text)
    if age:
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[age[2]]: int(age[1])})
        return utc_timestamp(moment)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return utc_timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-01-31), an ISO time or an age (7d, 12h, 30m)") from None
    return utc_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
