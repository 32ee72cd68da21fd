"""Generate the Korean call-center memory dataset (``memory_ko.json``) — deterministic, seeded.

Each conversation is one customer's calls (sessions) with a shop's call center, weeks apart.
Facts are dropped in passing, some change later (a move, a plan change, a new contact time),
and questions — phrased differently from the turns that answer them — list the ids of those
turns as evidence. Question types: preference, changed_fact, date, fact, history (about a value
that was later replaced; asked with ``include_superseded``).

    .venv/bin/python bench/data/memory_ko/generate.py      # rewrites memory_ko.json beside this file
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

KST = timezone(timedelta(hours=9))
HERE = Path(__file__).resolve().parent

NAMES = [
    "김민수",
    "이서연",
    "박지훈",
    "최유진",
    "정하늘",
    "강도윤",
    "조수아",
    "윤서준",
    "장예린",
    "임현우",
    "한지민",
    "오세훈",
    "서지아",
    "신동현",
    "권나은",
    "황민재",
    "안소희",
    "송태양",
    "전하린",
    "홍준서",
    "유다인",
    "고은별",
    "문성민",
    "양지호",
    "배수빈",
    "백승우",
    "허윤아",
    "남궁혁",
    "노하은",
    "심재원",
    "곽민영",
    "주원석",
]
ADDRESSES = [
    "서울시 마포구 월드컵로 12",
    "서울시 강남구 테헤란로 231",
    "부산시 해운대구 센텀로 45",
    "대구시 수성구 달구벌대로 88",
    "인천시 연수구 송도과학로 16",
    "광주시 서구 상무대로 301",
    "대전시 유성구 대학로 99",
    "수원시 영통구 광교로 145",
    "성남시 분당구 판교역로 40",
    "고양시 일산동구 중앙로 1200",
    "울산시 남구 삼산로 77",
    "제주시 연동 신대로 10",
    "청주시 흥덕구 가경로 55",
    "전주시 완산구 효자로 225",
    "창원시 성산구 중앙대로 150",
    "용인시 수지구 포은대로 30",
]
CONTACT_TIMES = [
    "오전 10시에서 12시 사이",
    "점심시간인 12시에서 1시 사이",
    "오후 2시 이후",
    "오후 4시에서 6시 사이",
    "저녁 7시 이후",
    "퇴근 후 저녁 8시쯤",
    "주말 오전",
]
CHANNELS = [("문자", "문자 메시지"), ("카카오톡", "카톡 알림"), ("이메일", "메일")]
PLACES = [("경비실", "경비실"), ("문 앞", "현관 문 앞"), ("무인 택배함", "택배 보관함"), ("관리사무소", "관리실")]
PLANS = ["5G 라이트", "5G 스탠다드", "5G 프리미엄", "LTE 베이직", "LTE 무제한", "데이터 안심"]
INSTALLABLE = ["공기청정기", "로봇청소기", "식기세척기", "정수기", "에어컨", "세탁기", "건조기", "커피머신"]
PRODUCTS = [
    "공기청정기",
    "로봇청소기",
    "전기밥솥",
    "무선 이어폰",
    "커피머신",
    "식기세척기",
    "에어프라이어",
    "가습기",
    "스마트워치",
    "블루투스 스피커",
    "운동화",
    "겨울 패딩",
]
COLORS = [
    ("네이비", "남색 계열"),
    ("베이지", "밝은 톤"),
    ("검정색", "어두운 색"),
    ("민트색", "파스텔 톤"),
    ("회색", "무채색"),
]
PAYMENTS = ["신용카드", "계좌이체", "카카오페이", "네이버페이", "자동이체"]
TIERS = ["실버", "골드", "플래티넘", "VIP"]
PETS = [("강아지", "초인종"), ("고양이", "문 여는 소리")]
ALLERGIES = ["견과류", "갑각류", "우유", "복숭아"]
JOBS = [
    ("간호사", "교대 근무"),
    ("택시 기사", "운전 중"),
    ("초등학교 교사", "수업 중"),
    ("요리사", "주방에서 일하는 중"),
]
FILLER_AGENT = [
    "잠시만 기다려 주시겠어요? 확인해 보겠습니다.",
    "네, 조회해 보니 정상적으로 처리되어 있습니다.",
    "불편을 드려 죄송합니다.",
    "다른 문의 사항은 없으실까요?",
    "네, 말씀하신 내용 메모해 두겠습니다.",
]
FILLER_CUSTOMER = ["네, 알겠습니다.", "아 그렇군요.", "네 감사합니다.", "네네 맞아요.", "잠시만요, 확인해 볼게요."]


class Builder:
    """Accumulates the turns of one conversation and the questions about them."""

    def __init__(self, cid: str, name: str, rng: random.Random) -> None:
        self.cid, self.name, self.rng = cid, name, rng
        self.sessions: list[dict] = []
        self.questions: list[dict] = []
        self.turn = 0

    def session(self, when: datetime) -> None:
        self.sessions.append(
            {"id": f"{self.cid}-s{len(self.sessions) + 1}", "started_at": when.isoformat(), "turns": []}
        )
        self.clock = when
        self.say("agent", "안녕하세요, 스위치보드 쇼핑 고객센터입니다. 무엇을 도와드릴까요?")
        self.say("customer", f"안녕하세요, {self.name}인데요.")

    def say(self, speaker: str, text: str) -> str:
        self.turn += 1
        self.clock += timedelta(seconds=self.rng.randint(15, 60))
        tid = f"{self.cid}-t{self.turn}"
        self.sessions[-1]["turns"].append(
            {
                "id": tid,
                "speaker": speaker,
                "role": "user" if speaker == "customer" else "assistant",
                "text": text,
                "timestamp": self.clock.isoformat(),
            }
        )
        return tid

    def filler(self) -> None:
        if self.rng.random() < 0.6:
            self.say("agent", self.rng.choice(FILLER_AGENT))
            self.say("customer", self.rng.choice(FILLER_CUSTOMER))

    def close(self) -> None:
        self.say("agent", "이용해 주셔서 감사합니다. 좋은 하루 보내세요.")
        self.say("customer", "네, 수고하세요.")

    def ask(self, qtype: str, question: str, evidence: list[str], answer: str, **extra: object) -> None:
        self.questions.append(
            {
                "id": f"{self.cid}-q{len(self.questions) + 1}",
                "type": qtype,
                "question": question,
                "evidence": evidence,
                "answer": answer,
                **extra,
            }
        )


def _batchim(word: str) -> bool:
    """Whether the last syllable of ``word`` ends in a consonant (digits and Latin by their reading)."""
    last = word.strip()[-1]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28 != 0
    if last.isdigit():
        return last in "013678"
    return last.lower() in "lmnr"


def j(word: str, pair: str) -> str:
    """``word`` with the right particle of ``pair`` ("을/를", "이/가", "은/는", "으로/로", "이에요/예요")."""
    with_final, without = pair.split("/")
    if pair == "으로/로" and word.strip()[-1] and "가" <= word[-1] <= "힣" and (ord(word[-1]) - 0xAC00) % 28 == 8:
        return word + without  # ㄹ-final words take 로
    return word + (with_final if _batchim(word) else without)


def _date(d: datetime) -> str:
    return f"{d.month}월 {d.day}일"


def conversation(index: int, rng: random.Random) -> dict:
    cid = f"ko{index:02d}"
    b = Builder(cid, NAMES[index % len(NAMES)], rng)
    start = datetime(2024, 1, 8, 10, 0, tzinfo=KST) + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 7))
    gaps = [0, rng.randint(14, 40), rng.randint(45, 90), rng.randint(100, 160)]
    addr_old, addr_new = rng.sample(ADDRESSES, 2)
    time_old, time_new = rng.sample(CONTACT_TIMES, 2)
    plan_old, plan_new = rng.sample(PLANS, 2)
    pay_old, pay_new = rng.sample(PAYMENTS, 2)
    product = rng.choice(PRODUCTS)
    product2 = rng.choice([p for p in INSTALLABLE if p != product])
    color, color_hint = rng.choice(COLORS)
    channel, channel_alias = rng.choice(CHANNELS)
    place, _place_alias = rng.choice(PLACES)
    pet, pet_reason = rng.choice(PETS)
    allergy = rng.choice(ALLERGIES)
    job, job_reason = rng.choice(JOBS)
    tier = rng.choice(TIERS)

    # ---- session 1: an order, the address on file, contact preferences
    b.session(start)
    order_day = start - timedelta(days=rng.randint(3, 9))
    t_order = b.say("customer", f"{_date(order_day)}에 {j(product, '을/를')} 주문했는데 아직 배송이 안 와서요.")
    b.say("agent", "주문 내역 확인해 보겠습니다. 배송지 주소 확인 부탁드립니다.")
    t_addr = b.say("customer", f"주소는 {j(addr_old, '이에요/예요')}.")
    b.say("agent", f"네, {j(addr_old, '으로/로')} 등록되어 있습니다. 내일 중으로 출고될 예정입니다.")
    b.filler()
    t_time = b.say(
        "customer",
        f"제가 {job}{'이라서' if _batchim(job) else '라서'} {job_reason}에는 전화를 못 받아요. "
        f"연락은 {time_old}에 주세요.",
    )
    t_chan = None
    if rng.random() < 0.7:
        t_chan = b.say("customer", f"그리고 전화보다는 {j(channel, '으로/로')} 안내해 주시면 좋겠어요.")
        b.say("agent", f"네, 앞으로 {j(channel, '으로/로')} 안내드리겠습니다.")
    t_place = b.say("customer", f"택배는 {place}에 맡겨 주세요.")
    t_pet = None
    if rng.random() < 0.6:
        t_pet = b.say(
            "customer", f"집에 {j(pet, '이/가')} 있어서 {pet_reason} 때문에 놀라요. 초인종은 누르지 말아 주세요."
        )
    b.close()
    b.ask("date", f"고객이 {j(product, '을/를')} 주문한 날짜는 언제인가요?", [t_order], _date(order_day))
    b.ask("fact", "고객의 직업은 무엇인가요?", [t_time], job)
    b.ask("preference", "배송 기사가 물건을 어디에 두고 가야 하나요?", [t_place], place)
    if t_chan:
        b.ask("preference", "고객이 원하는 안내 수단은 무엇인가요?", [t_chan], channel_alias)
    if t_pet:
        b.ask("fact", "고객 집에 있는 반려동물은?", [t_pet], pet)

    # ---- session 2: plan and payment, product preference, a visit date
    b.session(start + timedelta(days=gaps[1]))
    t_plan = b.say("customer", f"휴대폰 요금제 문의드리려고요. 지금 {plan_old} 요금제를 쓰고 있어요.")
    b.say("agent", f"네, {plan_old} 요금제 사용 중이신 것 확인됩니다.")
    t_pay = b.say("customer", f"요금은 {j(pay_old, '으로/로')} 결제하고 있어요.")
    b.filler()
    t_color = b.say(
        "customer",
        f"이번에 {product2}도 사려는데 {j(color, '으로/로')} 주세요. 저는 원래 {j(color_hint, '을/를')} 좋아해요.",
    )
    b.say("agent", f"{color} 재고 확인해 드리겠습니다.")
    visit = b.clock + timedelta(days=rng.randint(3, 12))
    t_visit_c = b.say("customer", f"{product2} 설치는 {_date(visit)} 오후로 잡아 주세요.")
    t_visit_a = b.say("agent", f"네, 설치 기사 방문을 {_date(visit)} 오후 2시로 예약해 드렸습니다.")
    t_allergy = None
    if rng.random() < 0.5:
        t_allergy = b.say("customer", f"아 그리고 제가 {allergy} 알레르기가 있어서 식품은 성분표를 꼭 봐야 해요.")
    b.close()
    b.ask("preference", "고객이 좋아하는 색 계열은 무엇인가요?", [t_color], color_hint)
    b.ask("date", "설치 기사님은 언제 방문하기로 했나요?", [t_visit_c, t_visit_a], _date(visit))
    if t_allergy:
        b.ask("fact", "고객이 피해야 하는 식품 성분은?", [t_allergy], allergy)

    # ---- session 3: things change
    b.session(start + timedelta(days=gaps[2]))
    t_move = b.say("customer", f"제가 얼마 전에 이사를 했거든요. 주소를 {addr_new}로 바꿔 주세요.")
    b.say("agent", f"네, 배송지를 {j(addr_new, '으로/로')} 변경해 드렸습니다.")
    t_plan2 = b.say("customer", f"그리고 요금제를 {j(plan_new, '으로/로')} 변경하고 싶어요.")
    b.say("agent", f"{plan_new} 요금제로 다음 달 1일부터 적용됩니다.")
    b.filler()
    refund_day = b.clock + timedelta(days=rng.randint(3, 7))
    t_refund_c = b.say("customer", f"지난번 {product} 포장이 찢어져서 왔어요. 환불받고 싶어요.")
    t_refund_a = b.say("agent", f"불편을 드려 죄송합니다. 환불은 {_date(refund_day)}까지 처리될 예정입니다.")
    b.close()
    b.ask("changed_fact", "이 고객의 현재 배송 주소는 어디인가요?", [t_move], addr_new)
    b.ask("changed_fact", "고객이 지금 쓰는 휴대폰 요금 상품은?", [t_plan2], plan_new)
    b.ask("date", "환불은 언제까지 해 준다고 안내했나요?", [t_refund_a], _date(refund_day))
    b.ask("fact", "고객이 환불을 요청한 이유는 무엇인가요?", [t_refund_c], "포장 파손")
    b.ask("history", "고객이 이사하기 전 주소는 어디였나요?", [t_addr], addr_old, include_superseded=True)

    # ---- session 4 (most conversations): a new contact time, a payment change, membership
    if rng.random() < 0.8:
        b.session(start + timedelta(days=gaps[3]))
        t_time2 = b.say("customer", f"요즘은 일정이 바뀌어서 {time_new}에 연락 주시는 게 편해요.")
        b.say("agent", "네, 연락 가능 시간 변경해 두겠습니다.")
        t_pay2 = b.say("customer", f"결제 수단도 {j(pay_new, '으로/로')} 바꿀게요.")
        b.say("agent", f"앞으로 {j(pay_new, '으로/로')} 결제됩니다.")
        b.filler()
        t_tier = b.say("customer", f"이번 달부터 {tier} 등급이 됐다고 문자 받았는데 혜택이 뭐예요?")
        b.say("agent", f"{tier} 등급은 무료 배송과 추가 적립 혜택이 있습니다.")
        b.close()
        b.ask("changed_fact", "상담원이 고객에게 전화하기 좋은 시간대는?", [t_time2], time_new)
        b.ask("changed_fact", "고객은 요금을 무엇으로 내나요?", [t_pay2], pay_new)
        b.ask("fact", "고객의 멤버십 등급은?", [t_tier], tier)
    else:
        b.ask("preference", "상담원이 고객에게 전화하기 좋은 시간대는?", [t_time], time_old)
        b.ask("fact", "고객의 결제 수단은 무엇인가요?", [t_pay], pay_old)
    b.ask("history", "고객이 예전에 쓰던 요금제는?", [t_plan], plan_old, include_superseded=True)
    return {"id": cid, "customer": b.name, "sessions": b.sessions, "questions": b.questions}


def build(n: int = 32, seed: int = 20261121) -> dict:
    rng = random.Random(seed)
    return {
        "name": "memory_ko",
        "language": "ko",
        "description": "Korean call-center customers' calls (multi-session); questions list their evidence turn ids.",
        "format": {
            "conversation": "{id, customer, sessions: [{id, started_at, "
            "turns: [{id, speaker, role, text, timestamp}]}], "
            "questions: [{id, type, question, evidence: [turn ids], answer, include_superseded?}]}",
        },
        "conversations": [conversation(i + 1, rng) for i in range(n)],
    }


if __name__ == "__main__":
    data = build()
    out = HERE / "memory_ko.json"
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    questions = sum(len(c["questions"]) for c in data["conversations"])
    turns = sum(len(s["turns"]) for c in data["conversations"] for s in c["sessions"])
    print(f"wrote {out}: {len(data['conversations'])} conversations, {turns} turns, {questions} questions")
