"""What the offline planner says: its sentences in Korean and English, and the labels it reads
order records with. Kept apart from the planner's logic (host/providers/offline.py) so the
wording can be reviewed, and changed, in one place."""

from __future__ import annotations

STATUS_KO = {
    "requested": "접수됨",
    "pending": "접수됨",
    "received": "접수됨",
    "processing": "처리 중",
    "in_progress": "처리 중",
    "approved": "승인됨",
    "completed": "완료",
    "refunded": "환불 완료",
    "done": "완료",
    "rejected": "반려됨",
    "denied": "반려됨",
    "cancelled": "취소됨",
    "canceled": "취소됨",
    "paid": "결제 완료",
    "preparing": "상품 준비 중",
    "ready": "출고 준비 완료",
    "shipped": "배송 중",
    "in_transit": "배송 중",
    "out_for_delivery": "배송 출발",
    "delivered": "배송 완료",
    "returned": "반품됨",
    "none": "환불 요청 없음",
}
FIELD_LABELS = {
    "state": ("상태", "status"),
    "status": ("상태", "status"),
    "refund_status": ("환불 상태", "refund status"),
    "order_status": ("주문 상태", "order status"),
    "amount": ("금액", "amount"),
    "amount_krw": ("금액", "amount"),
    "total_krw": ("결제 금액", "total"),
    "expected_completion_date": ("완료 예정일", "expected by"),
    "refund_amount": ("환불 금액", "refund amount"),
    "total": ("결제 금액", "total"),
    "total_amount": ("결제 금액", "total"),
    "requested_at": ("요청일", "requested"),
    "expected_at": ("예정일", "expected"),
    "expected_date": ("예정일", "expected"),
    "eta": ("도착 예정", "ETA"),
    "estimated_delivery": ("도착 예정", "estimated delivery"),
    "carrier": ("택배사", "carrier"),
    "tracking_number": ("운송장", "tracking"),
    "delivered_at": ("배송 완료일", "delivered"),
    "shipped_at": ("발송일", "shipped"),
    "completed_at": ("완료일", "completed"),
    "item_name": ("상품", "item"),
    "product_name": ("상품", "item"),
}

TEXT = {
    "greeting": {"ko": "안녕하세요, 고객님. 무엇을 도와드릴까요?", "en": "Hello! How can I help you today?"},
    "greeting_back": {
        "ko": "안녕하세요, 다시 연락 주셔서 감사합니다. 무엇을 도와드릴까요?",
        "en": "Hello again, thanks for getting back to us. How can I help?",
    },
    "one_order": {
        "ko": "한 번에 한 주문씩 도와드리고 있습니다. 주문번호 {orders} 중 어느 주문부터 확인할까요?",
        "en": "I can help with one order at a time. Which of orders {orders} shall we start with?",
    },
    "ask_order": {
        "ko": "확인을 위해 주문번호를 알려 주시겠어요?",
        "en": "Could you tell me your order number so I can check?",
    },
    "ask_reason": {
        "ko": "환불 사유를 말씀해 주시겠어요? (예: 단순 변심, 상품 불량)",
        "en": "Could you tell me why you'd like the refund? (e.g. changed my mind, damaged item)",
    },
    "withdraw": {
        "ko": "접수된 환불 요청은 제가 여기서 취소해 드릴 수 없습니다. 상담원을 연결해 드릴까요?",
        "en": "I can't withdraw a refund request from here. Shall I connect you to a person?",
    },
    "offer_refund": {"ko": "환불을 신청하시겠어요?", "en": "Would you like to request a refund?"},
    # a frustrated customer ("답답해 죽겠네", host/escalation_rules.py): the first time asked again, the
    # second time in a session offered a person (a yes hands over)
    "frustrated": {
        "ko": "불편을 드려 죄송합니다. 원하시는 내용을 다시 한 번 말씀해 주시면 도와드리겠습니다. "
        "상담원 연결을 원하시면 말씀해 주세요.",
        "en": "I'm sorry this has been frustrating. Tell me again what you need and I'll help. "
        "Say so if you'd like to talk to a person.",
    },
    "frustrated_offer": {
        "ko": "불편을 드려 죄송합니다. 상담원을 연결해 드릴까요?",
        "en": "I'm sorry this has been frustrating. Shall I connect you to a person?",
    },
    "ack": {"ko": "네, 더 궁금하신 점이 있으신가요?", "en": "Sure. Is there anything else I can help with?"},
    "thanks": {
        "ko": "이용해 주셔서 감사합니다. 더 필요하신 점이 있으면 말씀해 주세요.",
        "en": "You're welcome! Anything else?",
    },
    "unknown": {
        "ko": "죄송합니다. 말씀하신 내용을 정확히 이해하지 못했습니다. 다시 한 번 말씀해 주시겠어요?",
        "en": "Sorry, I didn't quite understand. Could you say that again?",
    },
    "no_tool": {
        "ko": "죄송합니다. 지금은 해당 내용을 조회할 수 없습니다. 상담원 연결을 원하시면 말씀해 주세요.",
        "en": "Sorry, I can't look that up right now. Say so if you'd like to talk to a person.",
    },
    "unverified": {
        "ko": "주문 정보는 본인 확인이 된 고객님께만 안내해 드릴 수 있습니다. 상담원 연결을 원하시면 말씀해 주세요.",
        "en": "I can only share order details once you are verified. Say so if you'd like to talk to a person.",
    },
    "not_found": {
        "ko": "입력하신 정보로 조회된 내역이 없습니다. 주문번호를 다시 확인해 주시겠어요?",
        "en": "I couldn't find anything for that. Could you check the order number?",
    },
    "conflict": {
        "ko": "이미 진행 중이거나 처리된 요청이라 다시 진행하지 않았습니다. 진행 상황을 확인해 드릴까요?",
        "en": "That is already under way or done, so I didn't do it again. Shall I check where it stands?",
    },
    # why the order server would not take a refund (its CONFLICT's reason sub-code)
    "blocked_window_passed": {
        "ko": "배송 완료 후 7일의 환불 신청 기간이 지나 이 주문은 바로 환불을 신청할 수 없습니다. "
        "상담원을 연결해 드릴까요?",
        "en": "The 7-day refund window after delivery has passed, so I can't file this refund. "
        "Shall I connect you to a person?",
    },
    "blocked_in_transit": {
        "ko": "이 주문은 배송 중이라 지금은 환불을 신청할 수 없습니다. 상품을 받으신 뒤 반품으로 신청해 주세요.",
        "en": "This order is on its way, so a refund can't be filed yet. Once it arrives, you can return it.",
    },
    "blocked_closed": {
        "ko": "이 주문은 이미 취소되었거나 환불된 주문입니다.",
        "en": "This order has already been cancelled or refunded.",
    },
    "blocked_not_paid": {
        "ko": "결제가 완료되지 않은 주문이라 환불할 금액이 없습니다.",
        "en": "This order hasn't been paid, so there is nothing to refund.",
    },
    "handed_over": {
        "ko": "상담원에게 연결 중입니다. 요청하신 내용은 상담원이 이어서 도와드리겠습니다.",
        "en": "You're being connected to a person; they will take care of this request.",
    },
    "failed": {
        "ko": "죄송합니다. 조회 중 문제가 발생했습니다. 잠시 후 다시 시도해 주세요.",
        "en": "Sorry, something went wrong while checking. Please try again shortly.",
    },
    "declined": {
        "ko": "알겠습니다. 진행하지 않았습니다. 다른 도움이 필요하시면 말씀해 주세요.",
        "en": "Understood, I didn't go ahead. Anything else I can do?",
    },
    "pending_approval": {
        "ko": "요청을 접수했습니다. 담당자 승인 후 처리해 드리겠습니다.",
        "en": "Your request is in. It will be processed once a staff member approves it.",
    },
    "no_memory": {"ko": "이전 상담 기록이 없습니다.", "en": "I don't have any notes from earlier conversations."},
    "memory": {"ko": "이전 상담 기록입니다: ", "en": "From earlier conversations: "},
    "kb_none": {
        "ko": "관련 안내 문서를 찾지 못했습니다. 상담원 연결을 원하시면 말씀해 주세요.",
        "en": "I couldn't find a document about that. Say so if you'd like to talk to a person.",
    },
    "source": {"ko": "출처", "en": "Source"},
    "escalate": {"ko": "상담원에게 연결해 드리겠습니다.", "en": "I'll connect you with a person."},
    # a refund asked for after the call was handed to a person: the person takes it, the bot does
    # not start one (a walk: the bot asked for the reason, then ignored it)
    "person_takes_it": {
        "ko": "환불 신청은 곧 연결되는 상담원이 도와드릴 예정입니다. 잠시만 기다려 주세요.",
        "en": "The person you'll be talking to shortly will help you with the refund. Please hold on.",
    },
    "waiting": {
        "ko": "네, 상담원이 곧 연결됩니다. 잠시만 기다려 주세요.",
        "en": "Sure, a person will be with you shortly. Please hold on.",
    },
    # the review queue's reason when the customer said yes to the planner's offer of a person
    "offer_taken": {"ko": "고객 요청: 상담원 연결 제안에 동의", "en": "customer accepted the offer of a person"},
}


def say(key: str, lang: str) -> str:
    return TEXT[key]["ko" if lang == "ko" else "en"]


# What the planner's texts say to offer a person, and what is said instead once one is on the way.
_OFFERS = {
    "ko": ("상담원 연결을 원하시면 말씀해 주세요.", "상담원을 연결해 드릴까요?"),
    "en": ("Say so if you'd like to talk to a person.", "Shall I connect you to a person?"),
}
_ON_THE_WAY = {
    "ko": "연결되는 상담원이 이어서 도와드리겠습니다.",
    "en": "The person you're being connected to will take it from here.",
}


# Offers a reply can end with, and what a yes to each asks for (the planner's next turn reads it).
_STATUS_OFFERS = ("진행 상황을 확인해 드릴까요?", "Shall I check where it stands?")
_REFUND_OFFERS = tuple(TEXT["offer_refund"].values())


def offer_in(text: str) -> str | None:
    """What ``text`` offers the customer: "person" (asked: "상담원을 연결해 드릴까요?"), "person_if_asked"
    (only said: "상담원 연결을 원하시면 말씀해 주세요", where "네 알겠습니다" is no request), "status"
    (the refund's progress), "refund" (to request one: a yes asks for the reason, then to confirm) or None."""
    if text.endswith(_REFUND_OFFERS):
        return "refund"
    if text.endswith((_OFFERS["ko"][1], _OFFERS["en"][1])):
        return "person"
    if text.endswith((_OFFERS["ko"][0], _OFFERS["en"][0])):
        return "person_if_asked"
    return "status" if text.endswith(_STATUS_OFFERS) else None


def handed_over(text: str, lang: str) -> str:
    """``text`` for a session already handed to a person: it never offers one again, and small talk
    ("네" → "더 궁금하신 점이 있으신가요?") says the person is coming instead of asking for more."""
    key = "ko" if lang == "ko" else "en"
    if text in (TEXT["ack"][key], TEXT["thanks"][key]):
        return TEXT["waiting"][key]
    for offer in _OFFERS[key]:
        text = text.replace(offer, _ON_THE_WAY[key])
    return text
