"""A session handed to a person makes no write on its own (found by a hostile walk).

A refund question was pending when the customer asked for a person; the host answered "상담원에게
연결해 드리겠습니다. 잠시만 기다려 주세요", the customer said "네" to that, and the refund asked
before the hand-over was made. Offline planner, engine level.
"""

from __future__ import annotations

import pytest

from core.errors import SwitchboardError
from host.records import event_logs, turns
from tests.host.conftest import make_layer
from tests.host.test_safety import _at_refund_prompt, _refunds, _rows


@pytest.mark.parametrize("handover", ["상담원 연결해 주세요", "아 진짜 짜증나네 장난해요?", "사람이랑 얘기할래요"])
@pytest.mark.parametrize("then", ["네", "네 진행해 주세요", "언제 연결돼요?"])
async def test_a_pending_refund_is_dropped_when_the_session_is_handed_over(start, handover, then):
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    handed = await conv.user_message(handover)
    assert handed.status == "escalated" and conv.state.pending is None
    after = await conv.user_message(then)
    assert after.status != "awaiting_confirmation" and after.confirm_prompt is None
    assert _refunds(layer) == []
    events = await _rows(event_logs, conv.session_id)
    dropped = [e for e in events if e["event_type"] == "CONFIRMATION_DROPPED"]
    assert len(dropped) == 1 and dropped[0]["payload"]["label"] == "handed_over"
    rows = await _rows(turns, conv.session_id)
    assert not any(r["user_confirmed"] for r in rows if r["confirm_prompt"] and "환불" in r["confirm_prompt"])
    with pytest.raises(SwitchboardError) as err:  # nothing left to answer with the UI's button either
        await conv.confirmation_response(True)
    assert err.value.code.value == "CONFLICT"


async def test_a_handed_over_session_asks_for_no_new_write(start):
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    await conv.user_message("상담원 연결해 주세요")
    answers = []
    for line in ("주문번호 8841 환불 신청하고 싶어요", "단순 변심이요", "네", "네 진행해 주세요"):
        result = await conv.user_message(line)
        assert result.confirm_prompt is None or "환불" not in result.confirm_prompt, (line, result.confirm_prompt)
        answers.append(result.answer or "")
    assert any("상담원" in a for a in answers) and not any("본인 확인" in a for a in answers), answers
    assert _refunds(layer) == []
    assert conv.state.escalated and conv.state.pending is None


async def test_lookups_that_find_nothing_three_times_in_a_row_hand_the_session_over(start):
    """A customer who cannot find their order (or someone trying order numbers) goes to a person
    after the third lookup in a row that found nothing; a found order resets the count."""
    from core.errors import not_found

    layer = make_layer(request_refund="confirm")

    def get_order(args):
        if args["order_id"] != "8841":
            raise not_found("no such order for this customer")
        return {"order_id": "8841", "items": [{"name": "이어폰"}]}

    layer.handlers["orders_get_order"] = get_order
    conv = await start(layer)
    for order_id in ("9999", "9998", "8841", "9997", "9996"):  # the found 8841 starts the count again
        await conv.user_message(f"주문번호 {order_id} 조회해 주세요")
        result = await conv.user_message("네")
        assert result.status != "escalated" and not conv.state.escalated, order_id
    await conv.user_message("주문번호 9995 조회해 주세요")
    handed = await conv.user_message("네")
    assert handed.status == "escalated" and conv.state.escalated
    events = await _rows(event_logs, conv.session_id)
    (escalation,) = [e for e in events if e["event_type"] == "ESCALATED"]
    assert escalation["payload"]["source"] == "not_found"


def _refused_refund(reason: str | None = None):
    """A layer whose order server refuses the refund with CONFLICT (``reason``: its sub-code)."""
    from core.errors import conflict

    layer = make_layer(request_refund="confirm")

    def request_refund(args):
        if reason is None:
            raise conflict("a refund for this order is already in progress")
        raise conflict("order 8807 cannot be refunded: …", reason=reason)

    layer.handlers["orders_request_refund"] = request_refund
    return layer


async def test_a_refund_already_under_way_is_said_so_not_called_a_lookup_problem(start):
    conv = await _at_refund_prompt(start, _refused_refund())
    answer = await conv.user_message("네")
    assert "이미 진행 중" in answer.answer and "조회 중 문제" not in answer.answer, answer.answer


@pytest.mark.parametrize(
    ("blocked", "said"),
    [
        ("window_passed", "7일의 환불 신청 기간이 지나"),
        ("in_transit", "배송 중이라"),
        ("closed", "이미 취소되었거나 환불된"),
        ("not_paid", "결제가 완료되지 않은"),
        ("refund_exists", "이미 진행 중"),
    ],
)
async def test_a_refused_refund_says_why_not_that_it_is_under_way(start, blocked, said):
    """A walk: an order past its 7-day window was answered "이미 진행 중이거나 처리된 요청", with no
    refund anywhere; the order server's CONFLICT says why in its ``reason`` sub-code."""
    conv = await _at_refund_prompt(start, _refused_refund(blocked))
    answer = await conv.user_message("네")
    assert said in answer.answer, answer.answer


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("변호사 선임해서 법적 조치 하겠습니다", "legal_threat"),
        ("소비자원에 민원 넣을게요", "legal_threat"),
        ("아 씨발 장난하냐", "profanity"),
        ("매니저 불러주세요", "customer"),
        ("상담원 연결은 필요 없어요", None),
        ("법적으로 환불 기간이 어떻게 되나요?", None),
    ],
)
async def test_the_review_queue_says_why_a_session_was_handed_over(start, line, source):
    """The walk found legal threats answered with a knowledge-base quote ('환불이 완료되었습니다')."""
    conv = await start(make_layer(request_refund="confirm"))
    result = await conv.user_message(line)
    events = [e for e in await _rows(event_logs, conv.session_id) if e["event_type"] == "ESCALATED"]
    if source is None:
        assert result.status != "escalated" and events == []
    else:
        assert result.status == "escalated" and [e["payload"]["source"] for e in events] == [source]


async def test_a_handed_over_session_never_offers_a_person_again(start):
    """A walk: after "상담원 연결해 주세요", "아직이에요?" found no document and the bot said "상담원
    연결을 원하시면 말씀해 주세요" to a customer already waiting for one."""
    from host.providers.offline_texts import TEXT

    layer = make_layer(request_refund="confirm")
    layer.handlers["kb_search"] = lambda args: {"results": []}
    conv = await start(layer)
    before = await conv.user_message("이거 어떻게 되는 건지 모르겠네요 알려줘요")
    assert before.answer == TEXT["kb_none"]["ko"]  # before the hand-over a person is offered
    await conv.user_message("상담원 연결해 주세요")
    for line in ("아직이에요?", "이거 어떻게 되는 건지 모르겠네요 알려줘요", "본인 확인은 어떻게 해요"):
        result = await conv.user_message(line)
        assert "원하시면" not in (result.answer or "") and "드릴까요" not in (result.answer or ""), (line, result)
    assert "연결되는 상담원이 이어서" in result.answer
    for line in ("네", "감사합니다"):  # small talk while waiting: the person is coming, nothing more is asked
        waiting = await conv.user_message(line)
        assert waiting.answer == "네, 상담원이 곧 연결됩니다. 잠시만 기다려 주세요.", (line, waiting.answer)


async def test_a_refund_refused_for_its_window_is_not_a_resolved_session(start):
    """A walk: the refund past its 7-day window was refused with "상담원을 연결해 드릴까요?", the
    customer left, and the session was recorded 해결."""
    conv = await _at_refund_prompt(start, _refused_refund("window_passed"))
    await conv.user_message("네")
    assert (await conv.end())["outcome"] == "미해결"


async def test_a_session_ended_at_a_confirmation_prompt_is_not_resolved(start):
    """A walk: the customer left at "…환불을 신청할까요?"; nothing was done, yet the session was 해결."""
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    assert conv.state.pending is not None and conv.state.answered
    ended = await conv.end()
    assert ended["outcome"] == "미해결" and "확인 요청에 답하지 않고 종료" in ended["summary"]
    assert _refunds(layer) == []


async def test_a_model_is_told_the_session_was_handed_over(start):
    from host.modelrequest import model_request
    from host.prompts import HANDED_OVER_RULE

    conv = await start(make_layer(request_refund="confirm"))
    assert HANDED_OVER_RULE not in model_request(conv).system
    await conv.user_message("상담원 연결해 주세요")
    request = model_request(conv)
    assert HANDED_OVER_RULE in request.system and request.context["handed_over"] is True


@pytest.mark.parametrize(
    ("blocked", "said"),
    [
        ("window_passed", "7일의 환불 신청 기간이 지나"),
        ("in_transit", "배송 중이라"),
        ("closed", "이미 취소되었거나 환불된"),
        ("refund_exists", "환불이 진행 중이며"),
    ],
)
async def test_a_refund_the_order_server_would_refuse_is_never_put_to_the_customer(start, blocked, said):
    """A walk: for an order delivered 40 days ago the bot asked for a reason and a yes, and only
    then said the 7-day window had passed. The refund status says so before anything is asked."""
    layer = make_layer(request_refund="confirm")

    def refund_status(args):
        return {
            "order_id": args["order_id"],
            "state": "processing" if blocked == "refund_exists" else "none",
            "refundable": False,
            "not_refundable_reason": "…",
            "not_refundable_code": blocked,
            "summary_ko": "환불이 진행 중이며 2026-11-24까지 완료될 예정입니다."
            if blocked == "refund_exists"
            else "환불 요청 내역이 없습니다.",
        }

    layer.handlers["orders_get_refund_status"] = refund_status
    conv = await start(layer)
    await conv.user_message("주문 8801 환불해 주세요")
    answer = await conv.user_message("네")  # to the lookup
    assert said in answer.answer and "사유" not in answer.answer, answer.answer
    assert answer.confirm_prompt is None and conv.state.pending is None
    after = await conv.user_message("단순 변심이요")  # no reason is awaited: nothing is put to them
    assert after.confirm_prompt is None
    assert _refunds(layer) == []


def _window_passed(layer):
    def refund_status(args):
        return {
            "order_id": args["order_id"],
            "state": "none",
            "refundable": False,
            "not_refundable_code": "window_passed",
            "summary_ko": "이 주문에는 환불 요청 내역이 없습니다.",
        }

    layer.handlers["orders_get_refund_status"] = refund_status
    return layer


@pytest.mark.parametrize("reply", ["네", "네 연결해 주세요", "예 부탁드려요", "ㅇㅇ"])
async def test_a_yes_to_the_offer_of_a_person_hands_the_session_over(start, reply):
    """A walk: "…상담원을 연결해 드릴까요?" → "네" → "네, 더 궁금하신 점이 있으신가요?"."""
    conv = await start(_window_passed(make_layer(request_refund="confirm")))
    await conv.user_message("주문 8801 환불해 주세요")
    offered = await conv.user_message("네")
    assert offered.answer.endswith("상담원을 연결해 드릴까요?")
    taken = await conv.user_message(reply)
    assert taken.status == "escalated" and conv.state.escalated, taken
    events = [e for e in await _rows(event_logs, conv.session_id) if e["event_type"] == "ESCALATED"]
    assert len(events) == 1


@pytest.mark.parametrize("reply", ["아니요", "아니요 괜찮아요", "네?", "음 글쎄요"])
async def test_anything_but_a_yes_to_the_offer_of_a_person_is_no_hand_over(start, reply):
    conv = await start(_window_passed(make_layer(request_refund="confirm")))
    await conv.user_message("주문 8801 환불해 주세요")
    await conv.user_message("네")
    after = await conv.user_message(reply)
    assert after.status != "escalated" and not conv.state.escalated


async def test_an_offer_is_taken_only_on_the_turn_right_after_it(start):
    conv = await start(_window_passed(make_layer(request_refund="confirm")))
    await conv.user_message("주문 8801 환불해 주세요")
    await conv.user_message("네")
    await conv.user_message("감사합니다")
    late = await conv.user_message("네")
    assert late.status != "escalated" and not conv.state.escalated


async def test_a_yes_to_the_offer_to_check_progress_checks_it(start):
    """A yes to "…이미 진행 중이거나 처리된 요청이라 … 진행 상황을 확인해 드릴까요?" looks the refund up."""
    layer = _refused_refund()
    conv = await _at_refund_prompt(start, layer)
    offered = await conv.user_message("네")
    assert offered.answer.endswith("진행 상황을 확인해 드릴까요?")
    before = len(layer.calls)
    checked = await conv.user_message("네")
    assert [c[0] for c in layer.calls[before:]][:1] == ["orders_get_refund_status"]
    assert "2026-11-24" in checked.answer and not conv.state.escalated


@pytest.mark.parametrize(("reply", "handed"), [("네 알겠습니다", False), ("네", False), ("네 연결해 주세요", True)])
async def test_an_offer_only_said_is_taken_only_when_the_reply_asks_for_it(start, reply, handed):
    """After "…상담원 연결을 원하시면 말씀해 주세요" a "네 알겠습니다" acknowledges; it asks for nobody."""
    layer = make_layer(request_refund="confirm")
    layer.handlers["kb_search"] = lambda args: {"results": []}
    conv = await start(layer)
    said = await conv.user_message("이거 어떻게 되는 건지 모르겠네요 알려줘요")
    assert said.answer.endswith("상담원 연결을 원하시면 말씀해 주세요.")
    after = await conv.user_message(reply)
    assert (after.status == "escalated") is handed and conv.state.escalated is handed


@pytest.mark.parametrize(
    "refusal", ["아니요 환불 안 할래요", "아니요", "됐어요 안 할래요", "취소요", "하지 마세요", "환불 안 해도 돼요"]
)
async def test_a_refusal_when_asked_for_the_reason_drops_the_refund(start, refusal):
    """A hostile walk: "아니요 환불 안 할래요" to "환불 사유를 말씀해 주시겠어요?" became the reason
    ("사유: 기타"), the next "네" confirmed the prompt, and 35,500원 was refunded."""
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    await conv.user_message("주문 8841 환불해 주세요")
    asked = await conv.user_message("네")  # the lookup
    assert "사유" in asked.answer
    dropped = await conv.user_message(refusal)
    assert dropped.confirm_prompt is None and "진행하지 않았습니다" in dropped.answer, dropped
    after = await conv.user_message("네")
    assert after.confirm_prompt is None and _refunds(layer) == []


@pytest.mark.parametrize("reason", ["사이즈가 안 맞아요", "작동이 안 돼요", "필요 없어졌어요", "아니요 불량이에요"])
async def test_a_reason_with_a_negation_is_still_the_reason(start, reason):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    await conv.user_message("주문 8841 환불해 주세요")
    await conv.user_message("네")
    asked = await conv.user_message(reason)
    assert (asked.confirm_prompt or "").startswith("주문번호 8841"), asked


async def test_a_refund_awaiting_its_reason_is_not_asked_again_after_a_hand_over(start):
    """A hostile walk: "주문 8822 환불해 주세요" / "네" / "상담원 연결이요" / "네" → escalated, then
    "환불 사유를 말씀해 주시겠어요?" again."""
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    await conv.user_message("주문 8841 환불해 주세요")
    assert "사유" in (await conv.user_message("네")).answer
    await conv.user_message("상담원 연결이요")
    after = await conv.user_message("네")
    assert "사유" not in after.answer and after.confirm_prompt is None, after.answer
    assert _refunds(layer) == []


@pytest.mark.parametrize(
    ("lines", "outcome"),
    [
        (["음 그 주문 환불 좀"], "미해결"),  # asked for the order number, then gone
        (["주문 8841 환불해 주세요", "네"], "미해결"),  # asked for the reason, then gone
        (["주문 8841 환불 상태 알려주세요", "네"], "해결"),  # answered
    ],
)
async def test_a_session_that_ends_on_a_question_back_is_not_resolved(start, lines, outcome):
    conv = await start(make_layer(request_refund="confirm"))
    for line in lines:
        await conv.user_message(line)
    assert (await conv.end())["outcome"] == outcome


async def test_a_request_naming_an_order_is_not_read_as_a_no(start):
    """A walk: "주문 8822 취소해 주세요" got "알겠습니다. 진행하지 않았습니다." (취소 read as "no")."""
    conv = await start(make_layer(request_refund="confirm"))
    result = await conv.user_message("주문 8841 취소해 주세요")
    assert "진행하지 않았습니다" not in (result.answer or "") or result.confirm_prompt, result


async def test_the_summary_says_a_refund_was_made(start):
    """A walk: after a refund was filed, the summary (and the customer's memory) said only "환불 요청
    문의. 주문번호 8822 확인 후 안내." — nothing recorded that money moved."""
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    await conv.user_message("네")
    assert len(_refunds(layer)) == 1
    assert "환불 요청 처리됨(r1)" in (await conv.end())["summary"]


async def test_the_summary_says_nothing_was_made_when_the_refund_was_declined(start):
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    await conv.user_message("아니요")
    assert "처리됨" not in (await conv.end())["summary"] and _refunds(layer) == []
