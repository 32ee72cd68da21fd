"""The conversation engine with the offline planner over an in-memory tool layer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import get_engine
from host.engine import EngineSettings
from host.records import event_logs, review_queue, turns
from host.store import RecordStore
from tests.host.conftest import Recorder, make_layer


async def _rows(table, session_id):
    engine = await get_engine()
    async with engine.connect() as conn:
        query = select(table).where(table.c.session_id == session_id)
        return [dict(r) for r in (await conn.execute(query)).mappings()]


async def test_scripted_korean_call(start, layer, recorder: Recorder):
    conv = await start(layer)
    r1 = await conv.user_message("안녕하세요. 상담 도움을 요청합니다.", asr_confidence=0.92)
    assert r1.answer and "무엇을 도와드릴까요" in r1.answer
    r2 = await conv.user_message("환불 진행 상황을 알고 싶습니다.", asr_confidence=0.9)
    assert "주문번호" in r2.answer and not layer.calls
    r3 = await conv.user_message("주문번호는 8841입니다.", asr_confidence=0.94)
    assert r3.confirm_prompt == "주문번호 8841로 조회해도 될까요?"
    assert r3.status == "awaiting_confirmation"
    assert layer.calls == []  # a confirm tool is not called before confirmation
    r4 = await conv.user_message("네, 맞아요.", asr_confidence=0.95)
    assert [c[0] for c in layer.calls] == ["orders_get_order", "orders_get_refund_status", "kb_search"]
    assert layer.calls[0][1] == {"order_id": "8841"}
    assert r4.answer.startswith("주문번호 8841(무선 블루투스 이어폰 외 1건): 주문 8841의 환불이 진행 중")
    assert "2026-11-24" in r4.answer and "[출처: 환불 정책 v3]" in r4.answer
    assert r4.kb_references and r4.kb_references[0]["version"] == 3
    assert len(r4.tool_calls) == 3
    r5 = await conv.user_message("상담원 연결해 주세요")
    assert r5.escalated and "상담원" in r5.answer
    ended = await conv.end()
    assert ended["outcome"] == "이관"
    assert "환불 상태" in ended["summary"] and "8841" in ended["summary"]

    row = await RecordStore().get_session(conv.session_id)
    assert row["is_escalated"] and row["status"] == "ended" and row["agent_version_id"] == "av-test-1"
    assert row["summary_text"] == ended["summary"] and row["outcome"] == "이관"
    turn_rows = sorted(await _rows(turns, conv.session_id), key=lambda t: t["seq"])
    assert [t["seq"] for t in turn_rows] == [1, 2, 3, 4, 5]
    asked = turn_rows[2]
    assert asked["confirm_prompt"] == "주문번호 8841로 조회해도 될까요?"
    assert asked["user_confirmed"] is True and asked["confirmation_response"] == "네, 맞아요."
    assert turn_rows[3]["kb_references"][0]["chunk_id"] == "refund-1"
    assert len(turn_rows[3]["tool_call_ids"]) == 3
    assert all(t["manifest_sha256"] == "m" * 64 for t in turn_rows)
    types = [e["event_type"] for e in await _rows(event_logs, conv.session_id)]
    for expected in (
        "ASR_RECEIVED",
        "CONFIRMATION_REQUESTED",
        "TOOL_CALLED",
        "FINAL_ANSWER_READY",
        "ESCALATED",
        "SUMMARY_GENERATED",
    ):
        assert expected in types
    reviews = await _rows(review_queue, conv.session_id)
    assert len(reviews) == 1 and reviews[0]["status"] == "Open" and reviews[0]["kind"] == "escalation"
    emitted = recorder.types()
    assert emitted[0] == "session.started" and emitted[-1] == "session.ended"
    assert "confirmation.requested" in emitted and "tool.started" in emitted and "escalated" in emitted


async def test_correction_calls_with_the_corrected_value(start, layer):
    conv = await start(layer)
    await conv.user_message("환불 진행 상황을 알고 싶습니다.")
    asked = await conv.user_message("주문번호는 8841입니다.")
    assert asked.confirm_prompt and layer.calls == []
    result = await conv.user_message("아니요, 8842번이에요.")
    assert layer.calls[0] == ("orders_get_order", {"order_id": "8842"})
    assert layer.calls[1] == ("orders_get_refund_status", {"order_id": "8842"})
    assert "8842" in result.answer
    rows = sorted(await _rows(turns, conv.session_id), key=lambda t: t["seq"])
    assert rows[1]["user_confirmed"] is False and rows[1]["correction_text"] == "아니요, 8842번이에요."


async def test_decline_makes_no_call(start, layer):
    conv = await start(layer)
    await conv.user_message("주문 8841 환불 상태 알려주세요")
    result = await conv.user_message("아니요")
    assert layer.calls == []
    assert "진행하지 않았습니다" in result.answer


async def test_button_confirmation(start, layer):
    conv = await start(layer)
    await conv.user_message("주문 8841 환불 상태 알려주세요")
    result = await conv.confirmation_response(True)
    assert layer.calls[0][0] == "orders_get_order" and result.status == "completed"


# before a refund is put to the customer: the order (whose it is) and its refund status (can it be refunded)
LOOKED_UP = ["orders_get_order", "orders_get_refund_status"]


async def test_write_tool_is_confirmed_even_when_pinned_never(start):
    layer = make_layer(request_refund="never")
    conv = await start(layer)
    lookup = await conv.user_message("주문 8841 환불 신청하고 싶어요")
    assert lookup.confirm_prompt == "주문번호 8841로 조회해도 될까요?" and layer.calls == []
    ask_reason = await conv.user_message("네")
    assert "사유" in ask_reason.answer and [c[0] for c in layer.calls] == LOOKED_UP
    asked = await conv.user_message("단순 변심이에요 제 카드 4111-1111-1111-1111 로 환불해 주세요")
    # the prompt names server facts and a reason category, never the reason's words
    assert asked.confirm_prompt == "주문번호 8841, 무선 블루투스 이어폰 외 1건 환불을 신청할까요? (사유: 단순 변심)"
    assert len(layer.calls) == 2
    await conv.user_message("네")
    name, args = layer.calls[2]
    assert name == "orders_request_refund" and args["idempotency_key"].startswith("idem-")
    assert args["reason"].startswith("단순 변심")
    assert "4111-1111-1111-1111" not in args["reason"] and "****-****-****-1111" in args["reason"]  # stored masked
    rows = sorted(await _rows(turns, conv.session_id), key=lambda t: t["seq"])
    assert rows[2]["user_confirmed"] is True


@pytest.mark.parametrize("bare_yes", ["네", "넵!", "ㅇㅇ", "yes"])
async def test_a_bare_yes_to_the_reason_question_is_not_the_reason(start, layer, bare_yes):
    """A walk: "네" to "환불 사유를 말씀해 주시겠어요?" became the refund's reason ("(사유: 네)")."""
    conv = await start(layer)
    await conv.user_message("주문 8841 환불 신청하고 싶어요")
    await conv.user_message("네")  # the lookup
    again = await conv.user_message(bare_yes)
    assert "사유" in again.answer and again.confirm_prompt is None
    assert [c[0] for c in layer.calls] == LOOKED_UP
    asked = await conv.user_message("상품이 불량이에요")
    prompt = asked.confirm_prompt or ""
    assert prompt.startswith("주문번호 8841") and "사유: 네" not in prompt


async def test_a_reason_that_names_the_refund_is_the_reason_and_hesitation_is_none(start, layer):
    """A walk: "상품 불량이에요 … 환불 계좌 …" as the reason became a status lookup ("환불 요청 내역이
    없습니다") and the refund was never put to the customer, who thought it was going ahead;
    "잠깐만요 생각 좀 해볼게요" became the reason "기타"."""
    conv = await start(layer)
    await conv.user_message("주문 8841 환불 신청하고 싶어요")
    await conv.user_message("네")
    asked = await conv.user_message("상품 불량이라서 환불하려고요")
    assert (asked.confirm_prompt or "").startswith("주문번호 8841") and [c[0] for c in layer.calls] == LOOKED_UP
    other = await start(layer)
    await other.user_message("주문 8841 환불 신청하고 싶어요")
    await other.user_message("네")
    paused = await other.user_message("잠깐만요 생각 좀 해볼게요")
    assert paused.confirm_prompt is None and "진행하지 않았습니다" in paused.answer


async def test_refund_reason_in_the_same_utterance(start, layer):
    conv = await start(layer)
    await conv.user_message("단순 변심이라서 주문 8841 환불 신청하고 싶어요")
    asked = await conv.user_message("네")
    assert asked.confirm_prompt == "주문번호 8841, 무선 블루투스 이어폰 외 1건 환불을 신청할까요? (사유: 단순 변심)"


async def test_low_confidence_asks_again_then_escalates(start, layer):
    conv = await start(layer)
    first = await conv.user_message("환불 어쩌구", asr_confidence=0.3)
    assert "다시" in first.answer and not first.escalated
    second = await conv.user_message("환불 저쩌구", asr_confidence=0.2)
    assert second.escalated
    rows = await _rows(review_queue, conv.session_id)
    assert rows[0]["reason"] == "음성 인식 신뢰도 낮음"


async def test_low_confidence_yes_does_not_confirm(start, layer):
    conv = await start(layer)
    await conv.user_message("주문 8841 환불 상태 알려주세요")
    await conv.user_message("네", asr_confidence=0.3)
    assert layer.calls == []
    await conv.user_message("네", asr_confidence=0.95)
    assert layer.calls


async def test_angry_customer_is_escalated_once(start, layer):
    conv = await start(layer)
    first = await conv.user_message("정말 화가 나네요. 최악이에요")
    again = await conv.user_message("I want a human")
    assert first.escalated and again.escalated
    assert len(await _rows(review_queue, conv.session_id)) == 1


async def test_repeated_tool_failure_escalates(start):
    layer = make_layer(get_order="never")

    def broken(_args):
        from core.errors import unavailable

        raise unavailable("database down")

    layer.handlers["orders_get_order"] = broken
    conv = await start(layer, settings=EngineSettings(tool_failures_to_escalate=2))
    await conv.user_message("주문 8841 조회해 주세요")
    result = await conv.user_message("주문 8841 조회해 주세요")
    assert result.escalated
    reviews = await _rows(review_queue, conv.session_id)
    assert reviews[0]["reason"] == "도구 호출 반복 실패"


async def test_english_flow(start, layer):
    conv = await start(layer)
    asked = await conv.user_message("Where is my refund for order 8841?")
    assert asked.confirm_prompt == "Shall I look up order 8841?"
    result = await conv.user_message("yes please")
    assert "8841" in result.answer and "[Source: 환불 정책 v3]" in result.answer


async def test_policy_question_cites_kb(start, layer):
    conv = await start(layer)
    result = await conv.user_message("환불 처리 기간이 얼마나 걸리나요?")
    assert layer.calls == [("kb_search", {"query": "환불 처리 기간이 얼마나 걸리나요?"})]
    assert "영업일" in result.answer and "[출처: 환불 정책 v3]" in result.answer
    assert result.kb_references == [
        {
            "kb_id": "kb-cs",
            "version": 3,
            "doc_id": "refund-policy",
            "chunk_id": "refund-1",
            "title": "환불 정책",
            "score": 0.91,
        }
    ]


async def test_session_resume_keeps_pending_confirmation(start, layer):
    from host.engine import Conversation
    from host.providers.offline import OfflinePlanner
    from tests.host.conftest import PROFILE

    conv = await start(layer)
    await conv.user_message("주문 8841 환불 상태 알려주세요")
    again = await Conversation.resume(
        conv.session_id, profile=PROFILE, layer=layer, provider=OfflinePlanner(), store=RecordStore()
    )
    result = await again.user_message("네, 맞아요.")
    assert layer.calls[0][0] == "orders_get_order" and "2026-11-24" in result.answer


async def test_pii_is_masked_in_records(start, layer):
    conv = await start(layer)
    await conv.user_message("제 번호는 010-1234-5678 입니다")
    rows = await _rows(turns, conv.session_id)
    assert "1234" not in rows[0]["transcript_text"] and "5678" in rows[0]["transcript_text"]
    state = (await RecordStore().get_session(conv.session_id))["state"]
    assert "010-1234-5678" not in str(state)


async def test_ended_session_refuses_messages(start, layer):
    import pytest

    from core.errors import SwitchboardError

    conv = await start(layer)
    await conv.end()
    with pytest.raises(SwitchboardError) as err:
        await conv.user_message("hello")
    assert err.value.code.value == "CONFLICT"


async def test_operator_approval_runs_on_the_next_turn(start):
    layer = make_layer(get_order="approve")
    conv = await start(layer)
    asked = await conv.user_message("주문 8841 조회해 주세요")
    assert "승인" in asked.answer and layer.calls == []
    store = RecordStore()
    items = await store.list_reviews(kind="approval")
    assert len(items) == 1 and items[0]["payload"]["arguments"] == {"order_id": "8841"}
    await store.resolve_review(items[0]["id"], decision="approve", by="operator")
    result = await conv.user_message("처리됐나요?")
    assert layer.calls == [("orders_get_order", {"order_id": "8841"})]
    assert layer.invocations[0].approval_id == items[0]["id"]
    assert "8841" in result.answer
    assert (await store.get_review(items[0]["id"]))["status"] == "Executed"
    await conv.user_message("고마워요")
    assert len(layer.calls) == 1  # an approval runs once


async def test_rejected_approval_is_never_run(start):
    layer = make_layer(get_order="approve")
    conv = await start(layer)
    await conv.user_message("주문 8841 조회해 주세요")
    store = RecordStore()
    item = (await store.list_reviews(kind="approval"))[0]
    await store.resolve_review(item["id"], decision="reject", by="operator", note="not allowed")
    result = await conv.user_message("어떻게 됐나요?")
    assert layer.calls == [] and "진행하지 않았습니다" in result.answer


async def test_shipping_question_looks_up_then_tracks(start, layer):
    conv = await start(layer)
    asked = await conv.user_message("주문 8841 배송 언제 와요?")
    assert asked.confirm_prompt == "주문번호 8841로 조회해도 될까요?"
    result = await conv.user_message("네")
    assert [c[0] for c in layer.calls] == ["orders_get_order", "orders_get_shipping_status", "kb_search"]
    assert "배송 현황" in result.answer and "CJ대한통운" in result.answer and "568231904417" in result.answer


async def test_memories_are_recalled_and_stored(start, layer, recorder):
    from tests.host.conftest import with_memory

    stored = with_memory(layer, ["고객은 오후 통화를 선호함"])
    conv = await start(layer)
    kinds = recorder.types()
    assert kinds[0] == "session.started" and kinds[1:3] == ["tool.started", "tool.completed"]
    hello = await conv.user_message("안녕하세요")
    assert "다시 연락" in hello.answer
    recall = await conv.user_message("지난번에 제가 뭐라고 했었죠?")
    assert "오후 통화를 선호" in recall.answer
    await conv.user_message("주문 8841 환불 상태 알려주세요")
    await conv.user_message("네")
    await conv.end()
    assert any("상담 요약" in s and "8841" in s for s in stored)
    assert any("주문번호 8841" in s for s in stored)


async def test_a_session_where_nothing_was_asked_leaves_no_memory(start, layer):
    """A walk: every session, even one ended at once, stored "상담 요약: 문의 내용 없음." for the customer."""
    from tests.host.conftest import with_memory

    stored = with_memory(layer, [])
    conv = await start(layer)
    await conv.end()
    assert stored == []
