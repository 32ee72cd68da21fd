"""``switchboard import-legacy`` masks personal data in every free-text column it stores, also a
session's ``escalation_reason`` and a review item's ``owner`` (an agent named by e-mail or phone)."""

from __future__ import annotations

from sqlalchemy import select

from core.db import get_engine
from host.legacy import import_legacy, review_row, session_row
from host.records import review_queue, sessions
from tests.host.test_legacy import _copy_with

SESSION = "6422ebc9-06e8-4ce0-a044-830207183ff5"
REASON = "고객 주민번호 900101-1234567 카드 4111 1111 1111 1111 확인 요청, 연락처 010-1234-5678"
OWNER = "kim.agent@example.com 010-9876-5432"
RAW = ("900101", "1234567", "4111 1111", "1234-5678", "kim.agent@", "9876-5432")


def _leaks(value: object) -> list[str]:
    return [raw for raw in RAW if raw in str(value)]


class _Versions:
    def columns(self) -> dict[str, str]:
        return {}


def test_rows_mask_escalation_reason_and_owner() -> None:
    session = session_row(
        {"id": "s-1", "org_id": "acme", "created_at": "2026-01-22 13:03:31+00", "escalation_reason": REASON},
        _Versions(),  # type: ignore[arg-type]
    )
    assert session["escalation_reason"].startswith("고객 주민번호 ******-*******")
    assert _leaks(session["escalation_reason"]) == []
    review = review_row(
        {"id": "r-1", "session_id": SESSION, "created_at": "2026-01-22 13:07:39+00", "owner": OWNER},
        _Versions(),  # type: ignore[arg-type]
    )
    assert review["owner"] == "k***@example.com 010-****-5432" and _leaks(review["owner"]) == []
    plain = review_row(
        {"id": "r-2", "session_id": SESSION, "created_at": "2026-01-22 13:07:39+00", "owner": "미배정"},
        _Versions(),  # type: ignore[arg-type]
    )
    assert plain["owner"] == "미배정"


def test_a_masked_owner_fits_its_column() -> None:
    owner = "a@example.com " + "x" * 113  # 127 characters: its mask is longer than the value
    review = review_row(
        {"id": "r-1", "session_id": SESSION, "created_at": "2026-01-22 13:07:39+00", "owner": owner},
        _Versions(),  # type: ignore[arg-type]
    )
    assert len(review["owner"]) <= 128 and "a@example" not in review["owner"]


async def test_import_stores_them_masked(database_url, tmp_path):
    directory = _copy_with(
        tmp_path,
        "review_queue",
        [{"id": "rq-pii", "session_id": SESSION, "reason": "후속", "owner": OWNER, "status": "Open",
          "created_at": "2026-01-22 13:07:39+00"}],
    )  # fmt: skip
    sessions_csv = directory / "sessions.csv"
    text = sessions_csv.read_text(encoding="utf-8")
    sessions_csv.write_text(text.replace("사람 상담 필요", REASON.replace(",", ""), 1), encoding="utf-8")
    report = await import_legacy(directory)
    assert report.skipped == []
    engine = await get_engine()
    async with engine.connect() as conn:
        reasons = [r[0] for r in await conn.execute(select(sessions.c.escalation_reason))]
        owners = [r[0] for r in await conn.execute(select(review_queue.c.owner))]
    assert any(r and "******-*******" in r for r in reasons), reasons
    assert _leaks(reasons) == [] and _leaks(owners) == []
    assert "k***@example.com 010-****-5432" in owners and "미배정" in owners
