"""A hostile-customer walk: requests for a person in other words, threats to post publicly and a
frustrated customer, at the engine with the offline planner.

"봇이랑 말하기 싫어요" was answered "알겠습니다. 진행하지 않았습니다." (nothing was pending), "너 말고 다른
사람" and "AI 말고요" with the knowledge base, "인터넷에 다 올릴게요" and "답답해 죽겠네" never reached a
person; "상담원한테 물어봤는데 환불 된다던데요" (an agent mentioned) was handed over. The rules:
host/escalation_rules.py; the labelled set: host/data/escalation_phrases.tsv.
"""

from __future__ import annotations

import pytest

from host.store import event_logs
from tests.host.conftest import make_layer
from tests.host.test_handover import _rows


async def _escalations(conv) -> list[str]:
    return [e["payload"]["source"] for e in await _rows(event_logs, conv.session_id) if e["event_type"] == "ESCALATED"]


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("봇이랑 말하기 싫어요", "customer"),
        ("너 말고 다른 사람", "customer"),
        ("AI 말고요", "customer"),
        ("로봇이랑 얘기 안 해", "customer"),
        ("사람이요", "customer"),
        ("진짜 사람이랑 얘기하고 싶어요", "customer"),
        ("인터넷에 다 올릴게요", "legal_threat"),
        ("상담원한테 물어봤는데 환불 된다던데요", None),
    ],
)
async def test_a_person_asked_for_in_other_words_is_handed_over(start, line, source):
    conv = await start(make_layer(request_refund="confirm"))
    result = await conv.user_message(line)
    if source is None:
        assert result.status != "escalated" and await _escalations(conv) == []
    else:
        assert result.status == "escalated" and await _escalations(conv) == [source], result.answer


async def test_the_second_frustrated_turn_offers_a_person_and_a_yes_takes_it(start):
    conv = await start(make_layer(request_refund="confirm"))
    first = await conv.user_message("답답해 죽겠네")
    assert first.status != "escalated" and "죄송합니다" in first.answer and "진행하지 않았습니다" not in first.answer
    second = await conv.user_message("말이 안 통하네 진짜")
    assert second.status != "escalated" and second.answer.endswith("상담원을 연결해 드릴까요?"), second.answer
    taken = await conv.user_message("네")
    # the planner's offer taken: the host's escalate_to_human tool, with the reason "상담원 연결 제안에 동의"
    assert taken.status == "escalated" and conv.state.escalated and await _escalations(conv) == ["model"]


async def test_a_frustrated_turn_with_a_question_is_answered(start):
    """ "몇 번을 말해요 8841 환불 상태요": the question is still taken up (the order lookup is asked)."""
    conv = await start(make_layer(request_refund="confirm"))
    result = await conv.user_message("몇 번을 말해요 8841 환불 상태 알려 주세요")
    assert result.confirm_prompt is not None and "8841" in result.confirm_prompt, result.answer


async def test_a_no_to_the_offer_keeps_the_conversation(start):
    conv = await start(make_layer(request_refund="confirm"))
    await conv.user_message("쓸모없는 봇")
    offered = await conv.user_message("you're useless")
    assert offered.answer.endswith("상담원을 연결해 드릴까요?") or offered.answer.endswith(
        "Shall I connect you to a person?"
    )
    declined = await conv.user_message("아니요 8841 환불 상태 알려 주세요")
    assert declined.status != "escalated" and not conv.state.escalated
