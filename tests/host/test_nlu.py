"""The offline planner's reading of an utterance: intent and order number, on sloppy input.

Customers repeat themselves, say numbers twice, correct themselves, talk past tense about a refund
they already asked for, and give a mobile number without hyphens. A status question read as a new
refund request would put a second refund to the customer; a phone number read as an order number
looks up the wrong thing. Each case below is one such utterance.
"""

from __future__ import annotations

import pytest

from host import nlu
from host.nlu import Intent

ORDER_NUMBERS = [
    ("주문번호는 8841입니다", "8841"),
    ("주문번호요? 8841이요 8841", "8841"),  # asked back, then said twice
    ("8841 8841 이요", "8841"),
    ("uh yeah hi um i was wondering about my refund order eight eight four one i mean 8841", "8841"),
    ("음 그 배송이 아직 안 와서요 어 주문한 게 8818 이거든요 확인 좀 해 주세요", "8818"),
    ("Where is order 8818?", "8818"),
    ("8841 조회해 주세요", "8841"),
    ("팔팔사일 아니 8841", "8841"),
    ("ORD-1234 환불이요", "ORD-1234"),
    # read out in Korean digits, as ASR writes it (a walk: "주문번호 팔팔삼이" was never read)
    ("주문번호 팔팔사일이요", "8841"),  # "이요" is the particle, not a 2
    ("주문번호는 팔팔 사일", "8841"),
    ("주문번호가 팔 팔 사 일 이에요", "8841"),
    ("팔팔이이번 환불해 주세요", "8822"),
    ("주문번호 팔팔사일 환불해 주세요", "8841"),
    # read as a quantity (a walk: "팔천팔백이십이번" was never read)
    ("팔천팔백이십이번 환불해 주세요", "8822"),
    ("주문번호 팔천팔백사십일이요", "8841"),
    ("주문번호는 팔천팔백사십일 번이요", "8841"),
    ("주문번호 만이천삼백사십오번", "12345"),
    ("이번 주문 환불이요", None),  # 이번: this time
    ("백번 말했잖아요", None),  # a count, not an order
    ("삼백번 전화했어요", None),
    ("이천이십육년에 주문했어요", None),  # a year
    ("주문번호 팔천팔팔", None),  # not a well-formed number
    # personal data is never an order number (a walk: an account number was looked up as an order)
    ("환불 계좌 바꾸고 싶어요 신한 110123456789 예요", None),
    ("900101-1234567", None),
    ("제 번호는 010-9876-5432예요", None),
    ("주문 이 사이즈로 했는데 교환 돼요?", None),  # words made of digit syllables
    ("주문 일일이 확인했는데 없어요", None),
    ("주문하고 삼사일이면 와요?", None),
    ("주문번호 공일공", None),  # no order number starts with 0
    ("이거 일이삼사번째 문의예요", None),
    # not order numbers
    ("제 번호 01012345678이에요", None),  # a mobile number without hyphens
    ("환불 문의인데 01012345678로 연락 주세요", None),
    ("010-1234-5678로 전화 주세요", None),
    ("8841이랑 8842 둘 다요 그리고 배송은 언제 와요", None),  # two different numbers: ask which
    ("네", None),
]


@pytest.mark.parametrize(("text", "number"), ORDER_NUMBERS)
def test_order_number(text: str, number: str | None) -> None:
    assert nlu.extract_order_number(text) == number


INTENTS = [
    # a refund already asked for: its status, never a new request
    ("아이고 내가 환불을 신청했는데 돈이 언제 들어오는지 모르겠어요", Intent.REFUND_STATUS),
    ("환불 요청한 거 어떻게 됐어요", Intent.REFUND_STATUS),
    ("지난주에 환불 접수했는데 아직이에요", Intent.REFUND_STATUS),
    ("환불 신청해 놨는데 확인 좀 해 주세요", Intent.REFUND_STATUS),
    ("I requested a refund last week, when will I get it", Intent.REFUND_STATUS),
    ("I already applied for a refund for order 8841", Intent.REFUND_STATUS),
    # new requests
    ("주문번호 77770001 환불 신청하고 싶어요", Intent.REFUND_REQUEST),
    ("환불 신청해 주세요", Intent.REFUND_REQUEST),
    ("환불 받고 싶어요 8841", Intent.REFUND_REQUEST),
    ("I want a refund for order 8841", Intent.REFUND_REQUEST),
    # lookups without the word 주문
    ("8841 조회해 주세요", Intent.ORDER_LOOKUP),
    ("8841 확인 부탁드려요", Intent.ORDER_LOOKUP),
    # cancelling an order is refunding it (no cancel tool); taking a refund back is its own intent
    ("주문 취소해 주세요", Intent.REFUND_REQUEST),
    ("8822 주문 취소하고 싶어요", Intent.REFUND_REQUEST),
    ("please cancel my order", Intent.REFUND_REQUEST),
    ("주문 취소 방법 알려주세요", Intent.POLICY),
    ("환불 취소해 주세요", Intent.REFUND_WITHDRAW),
    ("환불 철회해 주세요", Intent.REFUND_WITHDRAW),
    ("cancel my refund", Intent.REFUND_WITHDRAW),
    # a walk: these went to the knowledge base and read out an unrelated sentence
    ("제 친구 주문 8823도 같이 봐주세요", Intent.ORDER_LOOKUP),
    ("주문번호 8841 어떻게 됐어요", Intent.ORDER_LOOKUP),
    ("8841 좀 알려주세요", Intent.ORDER_LOOKUP),
    # ... while without an order number they ask about anything
    ("주문 취소 알려주세요", Intent.UNKNOWN),
    ("교환 어떻게 되나요", Intent.POLICY),
    ("Where is order 8818?", Intent.SHIPPING),
    ("where's my package", Intent.SHIPPING),
    ("상담원 연결해 주세요 8841 환불이요", Intent.ESCALATE),
    # a question about shipping costs is policy, not a lookup that needs an order number
    ("얼마 이상 사면 배송비가 무료예요?", Intent.POLICY),
    ("배송비는 누가 내요", Intent.POLICY),
    ("주문 8841 배송 언제 와요", Intent.SHIPPING),
    ("택배 언제 와요", Intent.SHIPPING),
    # a walk: how refunds work in general was answered "주문번호를 알려 주시겠어요?"
    ("주말에도 환불이 되나요?", Intent.POLICY),
    ("환불하면 쿠폰도 돌려받나요", Intent.POLICY),
    ("환불 받을 때 이자도 붙나요", Intent.POLICY),
    ("택배사 바꿀수 있나요", Intent.POLICY),
    # ... while the customer's own case stays a lookup
    ("환불 언제 되나요?", Intent.REFUND_STATUS),
    ("제 환불 되나요?", Intent.REFUND_STATUS),
    ("환불 됐나요?", Intent.REFUND_STATUS),
    ("환불 진행되나요", Intent.REFUND_STATUS),
    ("8841 환불 되나요", Intent.REFUND_STATUS),
    ("배송 어디쯤 왔나요", Intent.SHIPPING),
    ("8841 배송 되나요", Intent.SHIPPING),
    # a fifth walk: a name ending in 수 said before 고요 ("김민수고요") was thanked for, "수고"
    ("제 이름은 김민수고요 주소 바꾸고 싶어요", Intent.UNKNOWN),
    ("저 이영수고요", Intent.UNKNOWN),
    ("수고하세요", Intent.THANKS),
    ("수고 많으셨어요", Intent.THANKS),
    ("수고했어요", Intent.THANKS),
    # code-switched (a fifth walk: "8822 refund 해주세요 please" was read as a status question)
    ("8822 refund 해주세요 please", Intent.REFUND_REQUEST),
    ("refund 신청할게요", Intent.REFUND_REQUEST),
    ("please refund 8822", Intent.REFUND_REQUEST),
    ("8822 환불 please", Intent.REFUND_REQUEST),
    ("refund 됐나요", Intent.REFUND_STATUS),
    ("refund 언제 돼요", Intent.REFUND_STATUS),
]


@pytest.mark.parametrize(("text", "intent"), INTENTS)
def test_intent(text: str, intent: Intent) -> None:
    assert nlu.classify(text) == intent


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("그러니까 언제 들어온다고요?", True),
        ("그러니까 언제 들어온다고요", True),  # ASR: no question mark
        ("왜요 꼭 말해야 해요", True),
        ("what happens if I say no", True),
        ("단순 변심이요", False),
        ("사이즈가 안 맞아요", False),
        ("the color is wrong", False),
    ],
)
def test_question(text: str, question: bool) -> None:
    assert nlu.is_question(text) is question
