"""What a hostile walk found after the hand-over and at the start of a session (engine level).

- After "상담원 연결해 주세요", "네 환불 진행해 주세요" got "환불 사유를 말씀해 주시겠어요?" and the
  reason, once given, was ignored ("상담원이 곧 연결됩니다"): the person takes the refund; the bot
  says so and starts nothing.
- A session opened with "🙂" (or "8822", or "?") went on in English: the language is set by the
  first message with words in it.
"""

from __future__ import annotations

import pytest

from host import nlu
from tests.host.conftest import make_layer
from tests.host.test_safety import _refunds

AFTER_HANDOVER = ["네 환불 진행해 주세요", "환불해 주세요", "8841 환불 신청할게요", "환불 취소해 주세요"]


@pytest.mark.parametrize("then", AFTER_HANDOVER)
async def test_after_the_hand_over_a_refund_is_left_to_the_person(start, then):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    handed = await conv.user_message("상담원 연결해 주세요")
    assert handed.status == "escalated"
    after = await conv.user_message(then)
    assert "상담원" in (after.answer or "") and "환불 사유" not in (after.answer or ""), after.answer
    assert after.confirm_prompt is None
    reason = await conv.user_message("단순 변심")
    assert reason.confirm_prompt is None and _refunds(layer) == []


LANGUAGES = [("🙂", None), ("8822", None), ("?", None), ("...", None), ("A", None)]
LANGUAGES += [("네", "ko"), ("hi", "en"), ("8822 refund", "en")]


@pytest.mark.parametrize(("text", "language"), LANGUAGES)
def test_the_language_is_read_from_words_only(text, language):
    assert nlu.language_of(text) == language


@pytest.mark.parametrize("first", ["🙂", "8822", "?"])
async def test_a_session_opened_without_words_goes_on_in_korean(start, first):
    conv = await start(make_layer())
    await conv.user_message(first)
    asked = await conv.user_message("8841번 환불 상태 알려 주세요")
    assert conv.language == "ko"
    shown = (asked.confirm_prompt or "") + (asked.answer or "")
    assert "주문번호" in shown and "Shall I" not in shown, shown


def test_the_session_note_carries_the_customers_day(monkeypatch):
    """A walk: the memory written at 00:42 KST on 12-08 said "2026-12-07 상담 요약" (the UTC day)."""
    from datetime import UTC, datetime

    from host import memory
    from host.session import SessionState

    class _Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 12, 7, 15, 42, tzinfo=UTC)  # 2026-12-08 00:42 KST

    monkeypatch.setattr(memory, "datetime", _Clock)
    facts = memory.session_facts(SessionState(topics=["refund_status"]), "환불 상태 문의.", "ko")
    assert facts[0].startswith("2026-12-08 상담 요약"), facts
