"""Pure logic: phone numbers, name masking, business days, refund wording, seed determinism."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.errors import ErrorCode, SwitchboardError
from servers.order_server.business_days import add_business_days, business_days_between, is_business_day
from servers.order_server.phone import mask_name, parse_phone
from servers.order_server.refunds import REFUND_WINDOW_DAYS, block_reason, days_phrase, refund_summary_ko


@pytest.mark.parametrize(
    "raw",
    [
        "010-1234-5678",
        "01012345678",
        "+82 10 1234 5678",
        "+82-10-1234-5678",
        "+821012345678",
        "+82 (0)10-1234-5678",
        "(010) 1234-5678",
        "010.1234.5678",
        " 010 1234 5678 ",
    ],
)
def test_phone_forms_normalise_to_one_e164(raw: str) -> None:
    phone = parse_phone(raw)
    assert phone.e164 == "+821012345678"
    assert phone.masked == "+82-10-****-5678"


def test_old_three_digit_middle_numbers() -> None:
    phone = parse_phone("011-234-5678")
    assert phone.e164 == "+82112345678"
    assert phone.masked == "+82-11-***-5678"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "010-1234-567",  # too short
        "010-1234-56789",  # too long
        "02-123-4567",  # landline
        "+1 415 555 0100",  # not Korea
        "+82 2 123 4567",  # Korean landline
        "010-1234-5678 ext 2",
        "０１０-１２３４-５６７８",  # full-width digits
        "010-12a4-5678",
        "010+1234+5678",
        "0" * 40,
        "011-0234-56781",
    ],
)
def test_bad_phones_are_invalid_argument(raw: str) -> None:
    with pytest.raises(SwitchboardError) as err:
        parse_phone(raw)
    assert err.value.code is ErrorCode.INVALID_ARGUMENT


def test_phone_mask_agrees_with_the_shared_pii_masker() -> None:
    from core.pii import mask_text

    phone = parse_phone("010-9876-5432")
    assert mask_text(phone.e164) == phone.masked
    assert "9876" not in phone.masked


@pytest.mark.parametrize(
    ("name", "masked"), [("김민수", "김*수"), ("이준", "이*"), ("남궁민수", "남**수"), ("John Smith", "J*** S****")]
)
def test_name_masking(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_business_days_skip_weekends_and_korean_holidays() -> None:
    assert not is_business_day(date(2026, 1, 24))  # Saturday
    assert not is_business_day(date(2026, 2, 17))  # 설날
    assert not is_business_day(date(2026, 3, 2))  # substitute holiday for 삼일절
    assert is_business_day(date(2026, 1, 22))
    assert add_business_days(date(2026, 1, 21), 3) == date(2026, 1, 26)  # Wed + 3 → Mon
    assert add_business_days(date(2026, 2, 13), 1) == date(2026, 2, 19)  # Fri before 설날 → Thu
    assert add_business_days(date(2026, 9, 23), 2) == date(2026, 9, 29)  # across 추석
    assert business_days_between(date(2026, 1, 22), date(2026, 1, 26)) == 2
    assert business_days_between(date(2026, 1, 26), date(2026, 1, 22)) == 0


def test_refund_wording_matches_the_legacy_answers() -> None:
    today = date(2026, 1, 22)
    assert days_phrase(2) == "1~2영업일"
    text = refund_summary_ko("processing", date(2026, 1, 26), 2, today)
    assert text == "환불 처리가 진행 중이며 1~2영업일 내 완료됩니다."  # turns.csv, 2026-01-22
    assert "오늘" in refund_summary_ko("processing", today, 0, today)
    assert "지나" in refund_summary_ko("processing", date(2026, 1, 20), 0, today)
    assert refund_summary_ko("completed", None, None, today) == "환불이 완료되었습니다."


def _header(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"status": "delivered", "pay_status": "paid", "delivered_at": None}
    return base | overrides


def test_refundability_rules() -> None:
    now = datetime(2026, 1, 22, 3, 0, tzinfo=UTC)
    recent = now - timedelta(days=REFUND_WINDOW_DAYS - 1)
    old = now - timedelta(days=REFUND_WINDOW_DAYS + 1)
    assert block_reason(_header(delivered_at=recent), None, now) is None
    assert "window" in (block_reason(_header(delivered_at=old), None, now) or "")
    assert block_reason(_header(status="paid"), None, now) is None
    assert block_reason(_header(status="preparing"), None, now) is None
    assert "on its way" in (block_reason(_header(status="shipped"), None, now) or "")
    assert "not been paid" in (block_reason(_header(status="pending_payment", pay_status="pending"), None, now) or "")
    assert "cancelled" in (block_reason(_header(status="cancelled", pay_status="paid"), None, now) or "")
    live = {"refund_id": "RF1", "status": "processing"}
    assert "RF1" in (block_reason(_header(delivered_at=recent), live, now) or "")
    naive_recent = recent.replace(tzinfo=None)  # how SQLite returns UTC timestamps
    assert block_reason(_header(delivered_at=naive_recent), None, now) is None


def test_demo_data_is_deterministic_and_tells_the_8841_story() -> None:
    from servers.order_server.seed import demo_bundles

    anchor = date(2026, 1, 22)
    first, second = demo_bundles(anchor), demo_bundles(anchor)
    assert [(b.order_id, b.total_krw, b.status) for b in first] == [(b.order_id, b.total_krw, b.status) for b in second]
    story = next(b for b in first if b.order_id == "8841")
    assert story.customer.phone_masked == "+82-10-****-5678"  # sessions.csv caller_masked
    (refund,) = story.refunds
    assert refund.status == "processing"
    assert refund.requested_at.date() == date(2026, 1, 21)
    assert refund.expected_completion_date == date(2026, 1, 26)
    assert business_days_between(anchor, refund.expected_completion_date) == 2  # "1~2영업일 내"
    assert story.shipment and story.shipment.delivered_at
    assert story.shipment.delivered_at < refund.requested_at
    assert refund.requested_at - story.shipment.delivered_at <= timedelta(days=REFUND_WINDOW_DAYS)
    ids = [b.order_id for b in first]
    assert len(ids) == len(set(ids))
    for bundle in first:
        assert bundle.total_krw >= 0
        assert all(isinstance(i.unit_price_krw, int) for i in bundle.items)


def test_sqlite_reader_reopens_a_replaced_database_file(tmp_path) -> None:
    import os
    import sqlite3

    from servers.order_server.store import _sqlite_reader, close_readers

    def make(path, value: int) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
            conn.execute("INSERT INTO t VALUES (?)", (value,))
        conn.close()

    live, fresh = tmp_path / "live.db", tmp_path / "fresh.db"
    make(live, 1)
    make(fresh, 2)
    try:
        reader = _sqlite_reader(str(live))
        assert reader.execute("SELECT x FROM t").fetchone() == (1,)
        assert _sqlite_reader(str(live)) is reader  # reused while the file is the same
        os.replace(fresh, live)  # e.g. a demo reset recreated the database
        assert _sqlite_reader(str(live)).execute("SELECT x FROM t").fetchone() == (2,)
        with pytest.raises(sqlite3.OperationalError):
            _sqlite_reader(str(live)).execute("INSERT INTO t VALUES (3)")  # read-only
    finally:
        close_readers()


async def test_an_unreachable_database_is_unavailable_not_internal(monkeypatch, tmp_path) -> None:
    import json

    from fastmcp import Client

    from core.db import dispose_engines
    from core.settings import reload_settings
    from servers.kit import ServerLaunch
    from servers.order_server.app import build_server

    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", "postgresql://sb@127.0.0.1:9/nowhere")  # discard port
    reload_settings()
    try:
        async with Client(build_server(launch=ServerLaunch(org_id="demo"), hooks=[])) as client:
            result = await client.call_tool_mcp("get_order", {"order_id": "8841"})
    finally:
        await dispose_engines()
        monkeypatch.undo()
        reload_settings()
    assert result.is_error
    assert json.loads(result.content[0].text)["code"] == "UNAVAILABLE"
