"""Times shown as the orders show them: Korea time with +09:00."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from core.clock import korea_date, shown


def test_moments_are_shown_in_korea_time_with_the_offset():
    stored = datetime(2026, 1, 22, 4, 3, 31, tzinfo=UTC)
    assert shown(stored) == "2026-01-22 13:03 +09:00"
    assert shown(stored, seconds=True) == "2026-01-22 13:03:31 +09:00"
    assert shown(stored.replace(tzinfo=None)) == "2026-01-22 13:03 +09:00"  # naive: stored UTC (SQLite)
    assert shown(datetime(2026, 1, 22, 23, 30, tzinfo=timezone(timedelta(hours=-5)))) == "2026-01-23 13:30 +09:00"
    assert shown("2026-01-21T16:00:00Z") == "2026-01-22 01:00 +09:00"  # crosses midnight in Korea
    assert shown("2026-01-22 01:37:16.23134+00") == "2026-01-22 10:37 +09:00"  # legacy CSV spelling
    assert shown(None) == "" and shown("") == "" and shown("not a time") == "not a time"


def test_registry_tables_show_korea_time(database_url):
    from tests.registry.helpers import publish_clean
    from tests.registry.test_cli import _run, sb

    _run(publish_clean("orders", "1.0.0"))
    shown_versions = sb("versions", "orders").stdout
    assert "+09:00" in shown_versions


def test_an_order_moment_is_told_as_its_day_in_korea():
    from host.providers.offline_answers import describe_record

    assert korea_date("2026-01-21T16:00:00Z") == "2026-01-22"  # 01:00 the next day in Seoul
    assert korea_date("2026-01-22T00:30:00+09:00") == "2026-01-22"
    assert korea_date(datetime(2026, 1, 21, 15, 59, tzinfo=UTC)) == "2026-01-22"
    assert korea_date("2026-11-24") == "2026-11-24" and korea_date("곧") == "곧" and korea_date(None) == ""
    record = {"order_id": "8841", "state": "processing", "requested_at": "2026-01-21T16:00:00Z"}
    said = describe_record(record, "ko")
    assert "2026-01-22" in said and "2026-01-21" not in said
