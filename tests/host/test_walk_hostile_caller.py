"""A hostile, sloppy caller (a sixth walk): what got through, as failing tests first.

- a refund the MODEL proposes on its own (Anthropic, OpenAI) for an order the server cannot refund
  was put to the customer without the order server's refund-status check the offline planner and a
  corrected refund get (host/dialogue.py ``refund_check``): the customer's yes met CONFLICT.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.host.conftest import make_layer
from tests.host.fake_llm import FakeConversation, FakeLLM, FakeStep
from tests.host.test_providers import PROVIDERS, make_provider
from tests.host.test_safety import _refunds
from tests.host.test_walk_changed_mind import _status

# random ids, hashes, times and latencies in the stored rows may hold any four digits ("…-1234-…")
_NOISE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,}|\d{4}-\d\d-\d\d[T ][\d:.+]+|\d+\.\d+"
)


async def _stored_text(session_id: str) -> str:
    from tests.host.test_carryover import _stored

    return _NOISE.sub("", await _stored(session_id))


def _eager_refunder(conv: FakeConversation) -> FakeStep:
    """A model that refunds whatever order the customer names, without asking the server first."""
    results = conv.results_since_user()
    if results:
        return FakeStep(text=f"결과: {results[-1]['content']}")
    for order in ("8801", "8822"):
        if order in conv.last_user_text:
            return FakeStep(tool_calls=[("orders_request_refund", {"order_id": order, "reason": "단순 변심"})])
    return FakeStep(text="무엇을 도와드릴까요?")


def _window(args):
    refundable = args["order_id"] != "8801"
    return _status(refundable, None if refundable else "window_passed")(args)


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_refund_the_model_proposes_is_checked_with_the_server_first(kind, start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _window
    with FakeLLM(_eager_refunder) as llm:
        conv = await start(layer, provider=make_provider(kind, llm))
        asked = await conv.user_message("8801 단순 변심으로 환불해 주세요")
        assert ("orders_get_refund_status", {"order_id": "8801"}) in layer.calls, layer.calls
        assert asked.confirm_prompt is None and conv.state.pending is None, asked.confirm_prompt
        told = json.dumps(llm.bodies(), ensure_ascii=False)
        assert "window_passed" in told, told[-2000:]  # the model heard why
        await conv.user_message("네")
    assert _refunds(layer) == []


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_refundable_order_the_model_proposes_is_still_asked_and_made(kind, start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _window
    with FakeLLM(_eager_refunder) as llm:
        conv = await start(layer, provider=make_provider(kind, llm))
        asked = await conv.user_message("8822 단순 변심으로 환불해 주세요")
        assert asked.confirm_prompt is not None and asked.confirm_prompt.startswith("주문번호 8822"), asked
        await conv.user_message("네")
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8822"]


# --- a phone number said in three pieces over three turns ("010", "1234", "5678"): the second piece
# had no cue of its own (after the prefix alone only a 7-8 digit rest was masked), so it carried
# nothing on and both groups were stored raw; said in Korean digits, not even the prefix was seen


@pytest.mark.parametrize(
    "pieces",
    [
        ["010", "1234", "5678"],
        ["제 번호는 010이요", "1234요", "5678이요"],
        ["010이고요", "음 1234", "그리고 5678"],
        ["공일공", "일이삼사", "오육칠팔"],
        ["제 번호 공일공이요", "일이삼사요", "오육칠팔이요"],
        ["010", "일이삼사", "5678"],
    ],
)
async def test_a_phone_number_said_in_three_pieces_is_masked_in_every_store(start, pieces):
    layer = make_layer()
    conv = await start(layer)
    for piece in pieces:
        result = await conv.user_message(piece)
        assert result.confirm_prompt is None, result.confirm_prompt
    await conv.end()
    stored = await _stored_text(conv.session_id)
    for raw in ("1234", "5678", "일이삼사", "오육칠팔"):
        assert raw not in stored, (raw, pieces)
    assert not [c for c in layer.calls if c[0] != "kb_search"], layer.calls


# --- character-spaced ASR ("팔 팔 사 일", "8 8 4 1", "네 환 불 해 주 세 요") and an order number said
# in Korean digits without its label or 번 ("팔팔사일 환불 어떻게 됐어요"): the order was asked for
# again and again, and a spaced yes was asked twice and dropped


@pytest.mark.parametrize(
    "said",
    [
        "팔 팔 사 일 환불 어떻게 됐어요",
        "8 8 4 1 환불 어떻게 됐어요",
        "팔팔사일 환불 어떻게 됐어요",
        "팔천팔백사십일 환불 어떻게 됐어요",
        "환불 팔 팔 사 일 이요",
    ],
)
async def test_an_order_number_said_spaced_or_in_korean_digits_is_looked_up(start, said):
    conv = await start(make_layer())
    asked = await conv.user_message(said)
    assert asked.confirm_prompt is not None and "8841" in asked.confirm_prompt, asked


@pytest.mark.parametrize("reply", ["팔 팔 사 일", "팔 팔 사 일 이요", "8 8 4 1", "팔팔사일이요"])
async def test_an_order_number_given_spaced_when_asked_is_looked_up(start, reply):
    conv = await start(make_layer())
    first = await conv.user_message("환불 진행 상황 알려주세요")
    assert first.confirm_prompt is None
    asked = await conv.user_message(reply)
    assert asked.confirm_prompt is not None and "8841" in asked.confirm_prompt, asked


async def _at_refund_prompt(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _status(True)
    conv = await start(layer)
    await conv.user_message("8822 환불해 주세요")
    await conv.user_message("네")  # the lookup
    asked = await conv.user_message("단순 변심이요")
    assert asked.confirm_prompt is not None and "8822" in asked.confirm_prompt, asked
    return conv, layer


@pytest.mark.parametrize("reply", ["네 환 불 해 주 세 요", "네 진 행 해 주 세 요", "네 좋 아 요"])
async def test_a_character_spaced_yes_refunds(start, reply):
    conv, layer = await _at_refund_prompt(start)
    await conv.user_message(reply)
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8822"]


@pytest.mark.parametrize(
    "reply",
    [
        "네 환 불 하 지 마 세 요",
        "아 니 요",
        "네 근 데 환 불 은 아 직 요",
        "네 잠 깐 만 요",
        "네 취 소 할 게 요",
        "네 환 불 은 나 중 에 요",
        "네 싫 어 요",
        "네 몰 라 요",
        "네 환 불 해 주 세 요 ?",
        "네 환 불 해 주 나 요",
    ],
)
async def test_a_character_spaced_doubt_never_refunds(start, reply):
    conv, layer = await _at_refund_prompt(start)
    await conv.user_message(reply)
    await conv.user_message(reply)
    assert _refunds(layer) == []


@pytest.mark.parametrize(
    ("reply", "label"), [("네 환 불 하 지 마 세 요", "deny"), ("아 니 요", "deny"), ("네 환 불 해 주 세 요", "confirm")]
)
def test_a_character_spaced_reply_is_read_as_its_words(reply, label):
    from host.replies import read_reply

    assert read_reply(reply).label.value == label


@pytest.mark.parametrize(
    ("said", "order"),
    [
        ("주문번호 8 8 2 2요", "8822"),
        ("8 8 2 2번이요", "8822"),
        ("팔 팔 이 이 번이요", "8822"),
        ("팔천 원 환불이요", None),
    ],
)
def test_a_spaced_order_number_is_read_whole(said, order):
    """'8 8 2 2요' was read as 882 once the spaced digits were joined only up to the particle."""
    from host.ordernumbers import extract_order_number

    assert extract_order_number(said) == order


async def test_two_spaced_order_numbers_are_taken_one_at_a_time(start):
    layer = make_layer()
    conv = await start(layer)
    result = await conv.user_message("8 8 2 2 하고 8 8 0 7 둘 다 배송 조회해 주세요")
    assert result.confirm_prompt is None and "어느 주문" in (result.answer or ""), result


# --- a card number or a mobile number started in one turn and finished over the next ones: the
# card's groups said one per turn ("카드번호 4111", "1111", "1111", "1234") were all stored raw (the
# first had too few digits to be a card), and "공일공 일이삼사" kept its middle group raw


@pytest.mark.parametrize(
    ("turns", "raws"),
    [
        (["카드번호 4111", "1111", "1111", "1234"], ["4111", "1111"]),
        (["카드 앞자리 4111 1111", "5555", "그리고 1234"], ["4111 1111", "5555"]),
        (["공일공 일이삼사", "오육칠팔"], ["일이삼사", "오육칠팔"]),
        (["010-2345까지요", "6789요"], ["2345", "6789"]),
    ],
)
async def test_a_number_finished_over_several_turns_is_masked_in_each(start, turns, raws):
    conv = await start(make_layer())
    for text in turns:
        await conv.user_message(text)
    await conv.end()
    stored = await _stored_text(conv.session_id)
    for raw in raws:
        assert raw not in stored, (raw, turns)


@pytest.mark.parametrize(
    "said", ["카드로 5000원 결제했어요", "카드 결제였고 8841 환불 어떻게 됐어요", "카드 4000원 환불", "카드번호 5000원"]
)
def test_an_amount_or_an_order_said_with_card_is_no_card_number(said):
    from host.carryover import carry

    assert carry(said, None) == (said, [])


# --- names said in the forms a caller uses that the fifth walk's rules missed: a label without its
# particle ("제 이름 김민수예요", "성함 김민수입니다"), 이름이, a role ("주문자 김민수요", "수령인 …",
# "받는 사람 …"), a name spaced by ASR ("김 민 수"), "라고 해요", and English in lower case or "I'm"


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("제 이름 김민수예요 연락은 저녁에 주세요", "김민수"),
        ("성함 김민수입니다 연락은 저녁에 주세요", "김민수"),
        ("이름이 김민수인데요 연락은 저녁에 주세요", "김민수"),
        ("제 이름은 김 민 수 요 연락은 저녁에 주세요", "김 민 수"),
        ("전 김민수라고 해요 연락은 저녁에 주세요", "김민수"),
        ("주문자 김민수요 연락은 저녁에 주세요", "김민수"),
        ("주문자명은 김민수 연락은 저녁에 주세요", "김민수"),
        ("수령인 박영희예요 연락은 저녁에 주세요", "박영희"),
        ("받는 사람 박영희 연락은 저녁에 주세요", "박영희"),
        ("남편 이름이 김철수예요 연락은 저녁에 주세요", "김철수"),
        ("my name is jane doe call me in the evening", "jane doe"),
        ("I'm Jane Doe call me in the evening", "Jane Doe"),
    ],
)
async def test_a_name_said_in_a_callers_words_is_not_kept_as_a_memory(start, said, name):
    from tests.host.fake_tools import record_memory_writes

    layer = make_layer()
    stored = record_memory_writes(layer)
    conv = await start(layer)
    await conv.user_message(said)
    await conv.end()
    learned = [a for a in stored if "messages" in a]
    kept = " / ".join(m["content"] for a in learned for m in a["messages"])
    assert name not in kept, kept
    assert "저녁에" in kept or "evening" in kept, kept  # the words around it stay


@pytest.mark.parametrize(
    "said",
    [
        "제 이름 없이 주문했어요",
        "이름이 잘못 나왔어요",
        "주문자 정보 바꾸고 싶어요",
        "받는 사람 주소가 틀렸어요",
        "I'm fine thanks",
    ],
)
def test_words_about_a_name_keep_their_words(said):
    from host.names import hide_names

    assert hide_names(said) == said


# --- found in the real `switchboard chat`: "제 번호는 010" made 010 the session's order, so a later
# "환불해 주세요" looked up order 010 (INVALID_ARGUMENT: "조회 중 문제가 발생했습니다"); the last four
# digits a mask keeps ("**4567") were read as an order; and "팔 팔 이 이 환불해 주세요" right after an
# account number was masked whole as the account's rest


async def test_a_mobile_prefix_is_never_the_sessions_order(start):
    layer = make_layer()
    conv = await start(layer)
    await conv.user_message("제 번호는 010")
    result = await conv.user_message("환불 상태 알려주세요")
    assert not [c for c in layer.calls if c[1].get("order_id") == "010"], layer.calls
    assert result.confirm_prompt is None and "주문번호" in (result.answer or ""), result


@pytest.mark.parametrize(
    "said",
    [
        "환불은 국민은행 ****** ** **4567로",
        "010-****-5678로 연락 주세요",
        "카드 ****-****-****-1111로 환불",
        "제 번호는 010",
    ],
)
def test_digits_a_mask_kept_or_a_phone_prefix_are_no_order(said):
    from host.ordernumbers import extract_order_number, order_numbers

    assert extract_order_number(said) is None and order_numbers(said) == [], said


async def test_an_order_asked_for_after_an_account_number_reaches_the_lookup(start):
    conv = await start(make_layer())
    await conv.user_message("환불은 국민은행 123456 01 234567로")
    result = await conv.user_message("팔 팔 이 이 환불해 주세요")
    assert result.confirm_prompt is not None and "8822" in result.confirm_prompt, result


@pytest.mark.parametrize(("said", "category"), [("단 순 변 심", "단순 변심"), ("상 품 불 량 이 요", "상품 불량")])
async def test_a_reason_said_a_syllable_at_a_time_keeps_its_category(start, said, category):
    """The real chat: "단 순 변 심" was asked as "(사유: 기타)" and sent as the reason "단 순 변 심"."""
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _status(True)
    conv = await start(layer)
    await conv.user_message("8822 환불해 주세요")
    await conv.user_message("네")
    asked = await conv.user_message(said)
    assert asked.confirm_prompt is not None and f"(사유: {category})" in asked.confirm_prompt, asked


# --- digits said one at a time next to a group ("010 1 2 3 4 5 6 7 8", "010 1234 5 6 7 8", "신한 1 1 0 1 2
# 3 4 5 6 7 8 9"): core.pii reads neither a phone nor an account there, and the transcript kept them raw


@pytest.mark.parametrize(
    ("said", "raws"),
    [
        ("제 번호 010 1 2 3 4 5 6 7 8이요", ["1 2 3 4", "1234"]),
        ("010 1234 5 6 7 8로 연락 주세요", ["1234"]),
        ("환불은 신한 1 1 0 1 2 3 4 5 6 7 8 9로", ["1 1 0 1 2 3", "110123"]),
    ],
)
async def test_digits_said_one_at_a_time_are_masked_as_the_number_they_make(start, said, raws):
    conv = await start(make_layer())
    await conv.user_message(said)
    await conv.end()
    stored = await _stored_text(conv.session_id)
    for raw in raws:
        assert raw not in stored, (raw, said)


# --- an anonymous caller asked for their mobile number gave it in pieces ("공일공", "일이삼사", "오육칠팔";
# the real chat): each piece was masked, as it must be, and the same question came back three times
# word for word; the caller is now told to say the whole number in one go


@pytest.mark.parametrize("pieces", [["공일공", "일이삼사"], ["010이요", "1234"], ["제 번호는 010-1234까지요"]])
async def test_a_phone_number_given_in_pieces_is_asked_for_whole(start, pieces):
    from tests.host.fake_tools import make_tool

    layer = make_layer()
    phone_schema = {
        "type": "object",
        "properties": {"phone": {"type": "string"}, "factor_kind": {"type": "string"}, "factor": {"type": "string"}},
        "required": ["phone", "factor_kind", "factor"],
    }
    layer.tools.append(make_tool("orders_verify_caller", "orders", "verify_caller", phone_schema))
    layer.handlers["orders_verify_caller"] = lambda a: {"verified": False, "phone_masked": "010-****-0000"}
    conv = await start(layer, customer_ref=None)
    first = await conv.user_message("8841 환불 어떻게 됐어요")
    assert "휴대폰 번호" in (first.answer or ""), first
    for piece in pieces:
        result = await conv.user_message(piece)
        assert "한 번에" in (result.answer or ""), result
    assert not [c for c in layer.calls if c[0] == "orders_verify_caller"]


@pytest.mark.parametrize(
    "reply",
    ["네 불량이라서요 근데 아직요", "네 사이즈가 안 맞아서요 하지만 아직은요", "불량이라서요 근데 좀 더 생각해 볼게요"],
)
async def test_a_reason_with_a_but_does_not_take_the_refund_offer(start, reply):
    """At "환불을 신청하시겠어요?", "네 불량이라서요 근데 아직요" (but not yet) took the offer and the refund
    was put to the customer as if asked for."""
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _status(True)
    conv = await start(layer)
    await conv.user_message("8822 환불이요")
    offered = await conv.user_message("네")
    assert offered.answer.endswith("환불을 신청하시겠어요?"), offered.answer
    result = await conv.user_message(reply)
    assert result.confirm_prompt is None, result.confirm_prompt


@pytest.mark.parametrize("reply", ["네 사이즈가 좀 작은데요", "네 불량이라서요"])
async def test_a_reason_said_softly_still_takes_the_offer(start, reply):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _status(True)
    conv = await start(layer)
    await conv.user_message("8822 환불이요")
    await conv.user_message("네")
    result = await conv.user_message(reply)
    assert result.confirm_prompt is not None and "8822" in result.confirm_prompt, result
