"""Subjects ("slots") of single-valued facts, detected by rules in Korean and English.

A customer has one current address, one preferred contact time, one plan. When a new memory
states a value for a slot that an existing memory already holds, the old one is superseded
(see :mod:`servers.memory_server.supersede`). Detection is deliberately conservative: a slot is
assigned only when the text states a *value* for it ("주소가 부산시 해운대구 센텀로 45로 바뀌었어요",
"call me after 6pm"), never for a question or a bare mention ("주소 변경은 어떻게 하나요?").

Preferences with a polarity ("매운 음식을 좋아해요" / "매운 음식은 이제 싫어요") get the slot
``likes:<object>`` and the value ``+`` or ``-``, so a flip supersedes and a repeat deduplicates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlotMatch:
    """One subject a text states a value for."""

    slot: str
    value: str


_I = re.IGNORECASE

# ---------------------------------------------------------------- questions carry no facts
_QUESTION_KO = re.compile(
    r"(나요|까요|습니까|ㅂ니까|는지요?|인가요|한가요|을까|ㄹ까|건가요|던가요|는가요|됩니까|되죠|하죠|맞죠|어때요|뭐예요|뭔가요|언제예요|어디예요)\s*[?？.!]*\s*$"
)
_QUESTION_EN = re.compile(
    r"^\s*(what|when|where|which|who|why|how|can|could|do|does|did|is|are|was|were|will|would|should|may)\b", _I
)


def is_question(text: str) -> bool:
    """True for a question (it asks for a value, it does not state one)."""
    t = text.strip()
    if not t:
        return False
    if t.endswith(("?", "？")):
        return True
    if _QUESTION_KO.search(t):
        return True
    return bool(_QUESTION_EN.match(t)) and not re.search(r"[가-힣]", t) and len(t.split()) > 2 and t.endswith("?")


# ---------------------------------------------------------------- value patterns
_KO_ADDRESS = re.compile(
    r"((?:[가-힣]{1,6}(?:특별시|광역시|특별자치시|특별자치도|도|시)\s*)?"
    r"[가-힣]{1,6}(?:시|군|구)\s*(?:[가-힣0-9]{1,10}(?:구|읍|면)\s*)?"
    # the road, never the particle 으로 ("위화도 회군으로 …" is history, not an address)
    r"(?!으로)[가-힣0-9]{1,12}(?:로|길|동|리)(?:\s*\d+(?:-\d+)?(?:\s*(?:번지|호|번길))?)?"
    r"(?:\s*[가-힣A-Za-z0-9]{1,20}(?:아파트|빌라|오피스텔|타워|빌딩)?\s*\d{1,4}\s*동\s*\d{1,5}\s*호)?)"
)
_KO_CITY_ONLY = re.compile(r"([가-힣]{2,6}(?:특별시|광역시|시|도|군|구))(?:으로|로)\s*이사")
_KO_CITY_NAMES = (
    "서울|부산|대구|인천|광주|대전|울산|세종|수원|성남|고양|용인|창원|청주|전주|천안|포항|제주|김해|안산|"
    "남양주|화성|평택|의정부|파주|시흥|김포|광명|군포|하남|오산|이천|양주|구리|안양|부천|원주|춘천|강릉|"
    "여수|순천|목포|경주|거제|진주|구미|안동|군산|익산|속초|분당|일산|판교|송도|동탄|강남|해운대"
)
_KO_CITY_MOVE = re.compile(rf"({_KO_CITY_NAMES})(?:으로|로|에)\s*(?:이사|이주|전입|옮기|옮겼|내려|올라)")
_EN_ADDRESS = re.compile(
    r"(\d{1,6}\s+[A-Za-z0-9 .'-]{2,40}\b"
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|ro|gil|daero)\b\.?"
    r"(?:,?\s*(?:apt|apartment|suite|unit)\.?\s*\w+)?(?:,\s*[A-Za-z .'-]{2,30})?)",
    _I,
)
_EN_MOVED = re.compile(
    r"\b(?:moved|moving|relocated|relocating)\s+(?:to|into)\s+((?:the\s+)?[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})"
)
_EN_LIVE = re.compile(
    r"\bI\s+(?:now\s+)?(?:live|am living|'m living)\s+in\s+((?:the\s+)?[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})"
)

_PHONE = re.compile(r"(?<!\d)(0\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}|\+?82[-. ]?1\d[-. ]?\d{3,4}[-. ]?\d{4})(?!\d)")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")

_KO_TIME = re.compile(
    r"((?:평일|주말|주중|월요일|화요일|수요일|목요일|금요일|토요일|일요일)?\s*"
    r"(?:오전|오후|저녁|아침|점심|밤|낮|새벽)?\s*"
    r"(?:\d{1,2}\s*시(?:\s*\d{1,2}\s*분|\s*반)?)"
    r"(?:\s*(?:이후|이전|부터|까지|전|후|쯤|경|에서|~|-)\s*(?:(?:오전|오후|저녁)?\s*\d{1,2}\s*시(?:\s*반)?\s*(?:사이|까지|전)?)?)?)"
)
_KO_PERIOD = re.compile(
    r"((?:평일|주말|주중)?\s*(?:오전|오후|저녁|아침|점심시간|점심|밤|낮|퇴근\s*후|출근\s*전|업무\s*시간)(?:\s*(?:시간|중|에만|에|이후|이전))?)"
)
_KO_CONTACT = re.compile(r"(연락|전화|통화|콜백|상담|안내|문자)")
_KO_WANT = re.compile(
    r"(주세요|주시면|주셨으면|바랍니다|부탁|좋겠|좋아요|편해요|편합니다|괜찮|가능|원해|원합니다|해야|만\s*돼|받을\s*수|받아요|받습니다|돼요|됩니다|드릴게"
    r"|선호(?!하지))"  # an operator's note: "고객은 오후 2시 이후 통화를 선호함"
)
_EN_TIME = re.compile(
    r"\b((?:on\s+)?(?:weekdays?|weekends?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?)?\s*"
    r"(?:in the\s+)?(?:after|before|between|around|at|from)?\s*"
    r"(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)(?:\s*(?:and|to|-)\s*\d{1,2}(?::\d{2})?\s*(?:am|pm)?)?"
    r"|morning|afternoon|evening|noon|lunch(?:time)?|night))\b",
    _I,
)
_EN_CONTACT_ME = re.compile(
    r"\b(?:call|contact|reach|phone|ring|text)\s+me\b|\bbest time to (?:call|reach|contact)\b", _I
)

_KO_CHANNELS = {
    "문자": "sms",
    "메시지": "sms",
    "sms": "sms",
    "카톡": "kakaotalk",
    "카카오톡": "kakaotalk",
    "알림톡": "kakaotalk",
    "이메일": "email",
    "메일": "email",
    "전화": "phone",
    "통화": "phone",
    "우편": "mail",
}
_KO_CHANNEL = re.compile(
    r"(문자|메시지|카톡|카카오톡|알림톡|이메일|메일|전화|통화|우편)\s*(?:로|으로|로만|으로만)\s*"
    r"(?:[가-힣 ]{0,8})?(?:연락|안내|알려|보내|받|주세요|부탁|해\s*주|드려|주시)"
)
_KO_CHANNEL_NOT = re.compile(
    r"(문자|카톡|카카오톡|이메일|메일|전화|통화)\s*(?:는|은)?\s*(?:말고|대신|싫|안\s*받|받지\s*않|하지\s*마)"
)
_EN_CHANNEL = re.compile(
    r"\b(?:contact(?:ed)?|reach(?:ed)?|notif(?:y|ied)|updates?|get in touch with)\s+(?:me\s+)?(?:only\s+)?"
    r"(?:by|via|through|over|with)\s+"
    r"(text messages?|texts?|sms|e-?mails?|phone(?: calls?)?|calls?|kakao(?:talk)?|mail)\b"
    r"|\bI(?:'d| would)?\s+(?:really\s+)?(?:prefer|rather have)\s+"
    r"(text messages?|texts?|sms|e-?mails?|phone calls?|kakao(?:talk)?)\b",
    _I,
)
_EN_CHANNEL_MAP = {"text": "sms", "texts": "sms", "sms": "sms", "email": "email", "e-mail": "email", "emails": "email"}

_KO_PLAN = re.compile(
    r"([0-9A-Za-z가-힣+]{1,15}(?:\s+[0-9A-Za-z가-힣+]{1,15})?)\s*"
    r"(요금제|플랜|멤버십|등급|구독|패키지|상품)\s*(?:으로|로|을|를|에|이|가|는)?\s*"
    r"(?:[가-힣 ]{0,6})?(변경|바꿨|바꾸|바꿔|바뀌|가입|쓰고|쓰는|사용|이용|업그레이드|다운그레이드|전환|해지|신청|"
    r"올라|올랐|내려|됐|되었|있어|이에요|예요|입니다)"
)
_EN_PLAN = re.compile(
    r"\b(?:switched|switch|changed|change|upgraded|upgrade|downgraded|downgrade|moved|signed up|subscribed)"
    r"\s+(?:me\s+)?(?:to|for)\s+(?:the\s+)?"
    r"([A-Za-z0-9+ -]{1,30}?)\s*(plan|tier|subscription|membership|package)\b"
    r"|\b(?:I(?:'m| am)\s+on|my plan is|I have)\s+(?:the\s+)?"
    r"([A-Za-z0-9+ -]{1,30}?)\s*(plan|tier|subscription|membership)\b",
    _I,
)

_KO_PAYMENTS = (
    "신용카드|체크카드|카드|계좌이체|자동이체|무통장입금|무통장|카카오페이|네이버페이|토스페이|토스|페이코|휴대폰\\s*결제|"
    "상품권|포인트|현금"
)
_KO_PAYMENT = re.compile(
    rf"(?:결제|납부|지불|계산|요금)[^.]{{0,12}}?({_KO_PAYMENTS})\s*(?:으로|로)"
    rf"|({_KO_PAYMENTS})\s*(?:으로|로)\s*(?:[가-힣 ]{{0,6}})?(?:결제|납부|지불|계산|내고|낼게)"
)
_EN_PAYMENT = re.compile(
    r"\b(?:pay|paying|paid|payment)\b[^.]{0,20}?\b(?:by|with|via|using|through)\s+(?:my\s+|a\s+)?"
    r"(credit card|debit card|card|bank transfer|direct debit|paypal|apple pay|google pay|cash|check|cheque)\b",
    _I,
)

_KO_DELIVERY = re.compile(
    r"(?:배송|택배|물건|상품|배달)[^.]{0,20}?(문\s*앞|현관\s*앞|경비실|택배함|무인\s*택배함|무인함|관리실|관리사무소|우편함|직접\s*수령|옆집|편의점)"
)
_EN_DELIVERY = re.compile(
    r"\b(?:leave|drop|deliver|put)\b[^.]{0,25}?\b(?:at|with|in|by)\s+(?:the\s+|my\s+)?"
    r"(front door|back door|door|porch|reception|front desk|concierge|locker|mailroom|neighbou?r|garage)\b",
    _I,
)

_KO_LANG = re.compile(
    r"(영어|한국어|중국어|일본어|베트남어|러시아어)(?:로|으로)\s*(?:[가-힣 ]{0,6})?"
    r"(상담|안내|통화|말씀|응대|대화|얘기|연락)"
)
_EN_LANG = re.compile(
    r"\b(?:speak|prefer|talk|in|use)\b[^.]{0,15}?\b(english|korean|chinese|japanese|vietnamese|spanish|russian)\b", _I
)
_LANG_MAP = {"영어": "english", "한국어": "korean", "중국어": "chinese", "일본어": "japanese", "베트남어": "vietnamese"}

_KO_NAME = re.compile(  # a bare '이름은' only with no word before it: '반려견 이름은 초코예요' is the dog's
    r"(?:(?:제|저의|내)\s*이름은|저는\s*이름이|(?<![가-힣]\s)(?<![가-힣])이름은)\s*([가-힣]{2,4})"
    r"(?:이에요|예요|입니다|이고|고|이라고|라고)"
)
_KO_CALLME = re.compile(r"(?:저를|절)\s*([가-힣]{1,6}?)(?:\s*(?:님|씨|고객님))?\s*(?:이라고|라고|으로|로)\s*불러")
_EN_NAME = re.compile(r"\b(?:my name is|call me|I go by)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")

_EN_EMPLOYER = re.compile(
    r"\bI\s+(?:now\s+)?(?:work|am working)\s+(?:at|for)\s+((?:the\s+)?[A-Z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*){0,3})"
)
_KO_EMPLOYER = re.compile(
    r"(?:저는|제가|요즘|지금은|이제)?\s*([가-힣A-Za-z0-9]{2,15})(?:에서|에)\s*(?:일하고|근무하고|다니고|일해|근무해|다녀)"
)

_KO_LIKE = re.compile(
    r"([가-힣A-Za-z0-9]{1,12}(?:\s+[가-힣A-Za-z0-9]{1,12}){0,2}?)\s*(?:을|를|이|가|은|는|도)?\s*"
    r"(정말\s*|진짜\s*|너무\s*|아주\s*|제일\s*|가장\s*|더\s*|이제\s*|더\s*이상\s*)?"
    r"(좋아하지\s*않|좋아하지\s*안|안\s*좋아|싫어하|싫어|싫습니다|별로|좋아하|좋아해|좋아합니다|좋아요|선호하지\s*않|선호|즐겨)"
)
_EN_LIKE = re.compile(
    r"\bI\s+(?:really\s+|absolutely\s+|still\s+|now\s+|no longer\s+|don't\s+|do not\s+|didn't\s+|can't\s+)?"
    r"(like|love|enjoy|prefer|hate|dislike|can't stand)\s+((?:[a-z][\w'-]*\s*){1,3})",
    _I,
)

_KO_NEG_LIKE = ("좋아하지", "안 좋아", "안좋아", "싫", "별로", "선호하지")
_STOP_OBJECT = {
    "저",
    "제",
    "나",
    "저는",
    "제가",
    "저도",
    "그",
    "그거",
    "이거",
    "것",
    "거",
    "정말",
    "진짜",
    "너무",
    "요즘",
    "이제",
    "it",
    "that",
    "this",
    "them",
    "to",
    "the",
    "a",
    "an",
}


def _compact(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip(" .,:;'\"").lower()


def _address(text: str) -> list[SlotMatch]:
    qualifier = ""
    if re.search(r"(회사|직장|사무실|근무지)\s*(?:주소|로)|work address|office address", text, _I):
        qualifier = ":work"
    elif re.search(
        r"(배송지|받는\s*곳|수령지|로\s*(보내|배송|부쳐)|shipping address|delivery address"
        r"|\b(ship|send|deliver)\w*\s+(it\s+|them\s+)?to\b)",
        text,
        _I,
    ):
        qualifier = ":delivery"  # where parcels go ("…로 보내 주세요", "ship to …")
    ko_trigger = re.search(r"(주소|배송지|거주지|이사|살고|살아요|삽니다|사는|수령지|받는\s*곳)", text)
    match = _KO_ADDRESS.search(text)
    if match and (ko_trigger or len(match.group(1)) >= 8):
        return [SlotMatch("address" + qualifier, _compact(match.group(1)))]
    for pattern in (_KO_CITY_ONLY, _KO_CITY_MOVE):
        match = pattern.search(text)
        if match:
            return [SlotMatch("address" + qualifier, _compact(match.group(1)))]
    en_trigger = re.search(r"\b(address|live|living|moved|moving|relocat\w*|ship|send|deliver)\b", text, _I)
    match = _EN_ADDRESS.search(text)
    if match and en_trigger:
        return [SlotMatch("address" + qualifier, _compact(match.group(1)))]
    for pattern in (_EN_MOVED, _EN_LIVE):
        match = pattern.search(text)
        if match:
            return [SlotMatch("address" + qualifier, _compact(match.group(1)))]
    return []


def _contact_time(text: str) -> list[SlotMatch]:
    if _KO_CONTACT.search(text) and _KO_WANT.search(text):
        match = _KO_TIME.search(text) or _KO_PERIOD.search(text)
        if match and match.group(1).strip():
            return [SlotMatch("contact_time", _compact(match.group(1)))]
    if _EN_CONTACT_ME.search(text):
        match = _EN_TIME.search(text)
        if match and match.group(1).strip():
            return [SlotMatch("contact_time", _compact(match.group(1)))]
    return []


def _contact_channel(text: str) -> list[SlotMatch]:
    match = _KO_CHANNEL.search(text)
    if match:
        word = match.group(1)
        negative = _KO_CHANNEL_NOT.search(text)
        if negative and negative.group(1) == word:
            return []
        return [SlotMatch("contact_channel", _KO_CHANNELS.get(word, word))]
    match = _EN_CHANNEL.search(text)
    if match:
        word = (match.group(1) or match.group(2)).lower().rstrip("s")
        value = _EN_CHANNEL_MAP.get(word, _EN_CHANNEL_MAP.get(word + "s", "phone" if "call" in word else word))
        if word.startswith("text") or word == "sm":
            value = "sms"
        return [SlotMatch("contact_channel", value)]
    return []


def _phone(text: str) -> list[SlotMatch]:
    match = _PHONE.search(text)
    if not match or not re.search(r"(번호|연락처|전화|휴대폰|핸드폰|phone|number|mobile|cell)", text, _I):
        return []
    qualifier = ""
    if re.search(r"(집|자택)\s*(?:전화|번호)|home (?:phone|number)", text, _I):
        qualifier = ":home"
    elif re.search(r"(회사|사무실|직장)\s*(?:전화|번호)|work (?:phone|number)|office (?:phone|number)", text, _I):
        qualifier = ":work"
    return [SlotMatch("phone" + qualifier, re.sub(r"\D", "", match.group(1)))]


def _email(text: str) -> list[SlotMatch]:
    match = _EMAIL.search(text)
    return [SlotMatch("email", match.group(1).lower())] if match else []


def _plan(text: str) -> list[SlotMatch]:
    match = _KO_PLAN.search(text)
    if match:
        words = [
            w for w in match.group(1).split() if not w.endswith(("부터", "까지", "에서", "에는", "달", "주", "해"))
        ]
        name = _compact(" ".join(words))
        if name and name not in {"제", "저", "이", "그", "새", "다른", "어떤", "무슨"}:
            kind = {"요금제": "plan", "플랜": "plan", "구독": "plan", "패키지": "plan", "상품": "plan"}.get(
                match.group(2), "membership"
            )
            return [SlotMatch(kind, name)]
    match = _EN_PLAN.search(text)
    if match:
        name = match.group(1) or match.group(3)
        kind = (match.group(2) or match.group(4) or "plan").lower()
        slot = "membership" if kind in ("tier", "membership") else "plan"
        return [SlotMatch(slot, _compact(name))]
    return []


def _payment(text: str) -> list[SlotMatch]:
    match = _KO_PAYMENT.search(text)
    if match:
        return [SlotMatch("payment_method", _compact(match.group(1) or match.group(2)))]
    match = _EN_PAYMENT.search(text)
    return [SlotMatch("payment_method", _compact(match.group(1)))] if match else []


def _delivery(text: str) -> list[SlotMatch]:
    match = _KO_DELIVERY.search(text) or _EN_DELIVERY.search(text)
    return [SlotMatch("delivery_instruction", _compact(match.group(1)).replace(" ", ""))] if match else []


def _language(text: str) -> list[SlotMatch]:
    match = _KO_LANG.search(text)
    if match:
        return [SlotMatch("language", _LANG_MAP.get(match.group(1), match.group(1)))]
    if re.search(r"\b(prefer|speak|please)\b", text, _I):
        match = _EN_LANG.search(text)
        if match:
            return [SlotMatch("language", match.group(1).lower())]
    return []


def _name(text: str) -> list[SlotMatch]:
    for pattern in (_KO_CALLME, _KO_NAME, _EN_NAME):
        match = pattern.search(text)
        if match:
            return [SlotMatch("name", _compact(match.group(1)))]
    return []


def _employer(text: str) -> list[SlotMatch]:
    match = _EN_EMPLOYER.search(text)
    if match:
        return [SlotMatch("employer", _compact(match.group(1)))]
    match = _KO_EMPLOYER.search(text)
    if match and match.group(1) not in _STOP_OBJECT and not match.group(1).endswith(("집", "학교")):
        return [SlotMatch("employer", _compact(match.group(1)))]
    return []


_EN_STOP = {
    "anymore",
    "any",
    "more",
    "much",
    "lot",
    "so",
    "very",
    "really",
    "in",
    "on",
    "at",
    "of",
    "to",
    "with",
    "my",
    "your",
    "too",
    "also",
    "now",
    "either",
    "all",
    "about",
    "when",
    "going",
    "doing",
    "having",
}


def _object_key(phrase: str, english: bool = False) -> str:
    from servers.retrieval.korean import tokenize

    tokens = [t for t in tokenize(phrase) if t not in _STOP_OBJECT and t not in _EN_STOP]
    # Korean noun phrases end with their head ("매운 음식"); English objects start with it.
    return tokens[0] if english and tokens else " ".join(tokens[-3:])


def _likes(text: str) -> list[SlotMatch]:
    match = _KO_LIKE.search(text)
    if match:
        key = _object_key(match.group(1))
        if key:
            verb = match.group(3)
            negative = any(verb.replace(" ", "").startswith(n.replace(" ", "")) for n in _KO_NEG_LIKE)
            if re.search(r"더\s*이상", match.group(2) or "") and not negative:
                negative = bool(re.search(r"(않|안\s)", text))
            return [SlotMatch(f"likes:{key}", "-" if negative else "+")]
    match = _EN_LIKE.search(text)
    if match:
        key = _object_key(match.group(2), english=True)
        if key:
            prefix = match.group(0).lower()
            negative = match.group(1).lower() in ("hate", "dislike", "can't stand") or any(
                n in prefix for n in ("don't", "do not", "didn't", "no longer", "can't ")
            )
            return [SlotMatch(f"likes:{key}", "-" if negative else "+")]
    return []


_DETECTORS: tuple[Callable[[str], list[SlotMatch]], ...] = (
    _address,
    _contact_time,
    _contact_channel,
    _phone,
    _email,
    _plan,
    _payment,
    _delivery,
    _language,
    _name,
    _employer,
)


def detect_slots(text: str) -> list[SlotMatch]:
    """The single-valued subjects ``text`` states a value for (empty for questions)."""
    if not text or is_question(text) or len(text) > 600:
        return []
    found: dict[str, SlotMatch] = {}
    for detector in _DETECTORS:
        for match in detector(text):
            if match.value and match.slot not in found:
                found[match.slot] = match
    if not found:
        for match in _likes(text):
            found[match.slot] = match
    return sorted(found.values(), key=lambda m: m.slot)


def slot_key(matches: list[SlotMatch]) -> str | None:
    """The stored slot column: sorted slot names joined by ``+`` (None when there are none)."""
    if not matches:
        return None
    return "+".join(m.slot for m in matches)[:200]


def slot_value_key(matches: list[SlotMatch]) -> str:
    return "|".join(f"{m.slot}={m.value}" for m in matches)
