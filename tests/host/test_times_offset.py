"""REST and CSV times carry their offset: SQLite hands back naive UTC datetimes, which were
printed without one ('2026-12-07T19:35:22.891902'), so a reader in Korea took them for local time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

KST = timezone(timedelta(hours=9))


def test_rest_json_times_have_an_offset():
    from host.app import dumps

    naive = datetime(2026, 12, 7, 19, 35, 22, 891902)  # as SQLite returns sessions.created_at
    body = json.loads(dumps({"created_at": naive, "aware": naive.replace(tzinfo=KST), "day": date(2026, 12, 8)}))
    assert body["created_at"] == "2026-12-07T19:35:22.891902+00:00"
    assert datetime.fromisoformat(body["created_at"]) == naive.replace(tzinfo=UTC)
    assert body["aware"] == "2026-12-07T19:35:22.891902+09:00"  # an aware value is kept as it is
    assert body["day"] == "2026-12-08"


def test_console_csv_times_have_an_offset():
    from host.console.sessions import to_csv

    naive = datetime(2026, 12, 7, 19, 35, 22)
    text = to_csv([{"id": "s1", "created_at": naive, "ended_at": naive.replace(tzinfo=UTC)}])
    row = text.splitlines()[1].split(",")
    assert row[1] == "2026-12-07T19:35:22+00:00" and row[2] == "2026-12-07T19:35:22+00:00", text
