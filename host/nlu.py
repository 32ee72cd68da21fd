"""Deterministic Korean/English language rules: intents, order numbers, yes/no, escalation, anger.

Used by the offline planner (intents, order numbers) and by the engine's policies (escalation
requests, an angry customer, confirmation answers) whatever the provider.
"""

from __future__ import annotations

import re
from enum import StrEnum

from host.ordernumbers import extract_order_number
from host.replies import ReplyLabel, read_reply

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def detect_language(text: str) -> str:
    """``ko`` when the text has Hangul, else ``en``."""
    return "ko" if _HANGUL.search(text or "") else "en"


class Intent(StrEnum):
    REFUND_STATUS = "refund_status"
    REFUND_REQUEST = "refund_request"
    SHIPPING = "shipping"
    ORDER_LOOKUP = "order_lookup"
    POLICY = "policy"
    MEMORY = "memory"
    GREETING = "greeting"
    THANKS = "thanks"
    ESCALATE = "escalate"
    REFUND_WITHDRAW = "refund_withdraw"  # take back a refund already asked for: no tool does it
    UNKNOWN = "unknown"


ORDER_INTENTS = frozenset({Intent.REFUND_STATUS, Intent.REFUND_REQUEST, Intent.SHIPPING, Intent.ORDER_LOOKUP})


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts), re.IGNORECASE)


# --- escalation: a person asked for, a legal or complaint threat, profanity, anger ---------------
#
# The policies (host/escalation.py) hand the session to a person on any of these, before the model
# sees the utterance. Each family is written down here with what it deliberately leaves alone;
# host/data/escalation_phrases.tsv holds the labelled utterances the tests measure them on. Plain
# patterns over the text (this module does not use kiwi), written to work without spaces (ASR:
# '상담원연결해주세요', '변호사선임하겠습니다'); English words are matched whole.
#
# human_request — the customer asks for a person:
#   * an agent word, anywhere ('상담원', '상담사', '상담 직원': '상담원이요', '상담원 없어요?');
#     English: a person word said on its own ('representative', 'agent please', 'a human please');
#   * a person word with a request verb: '사람/인간/직원/매니저/담당자/책임자/팀장/사장/대표/윗선/
#     콜센터/고객센터' + '연결/바꿔/불러/통화/얘기/나오라고'; '전화 연결/돌려'; '기계/로봇/ARS 말고
#     사람'; '진짜 사람 없어요?'; English 'talk/speak/chat/connect/transfer … to a human/an agent/
#     someone', 'get/need/want … a manager/supervisor/representative', 'is there a human',
#     'have someone call me', 'escalate';
#   * not when the request itself is declined, right after it ('상담원 연결은 필요 없어요', '상담원 안
#     불러도 돼요', '사람 바꿀 필요 없어요', '상담원 말고', '상담원 연결 취소'; 'I don't want to talk
#     to a person', 'I'd rather not talk to a human'). A refusal of something else does not count
#     ('기계 말고 사람 연결해 줘요', '상담원 연결해서 환불 취소해 주세요', 'no i want a human'), nor
#     does a question ('상담원 연결 안 돼요?', '상담원 연결 괜찮을까요?', 'why can't I talk to a person');
#   * not the recipient or a phone number ('받는 사람 바꿔 주세요', '전화번호 바꿔 주세요'), an agent
#     quoted ('지난번 상담원이 환불된다고 했는데'), a call that happened ('직원이랑 통화했는데'), or a
#     possessive ('the agent's number'), or the agents' hours asked about ('상담원 몇시까지 해요',
#     '상담원은 주말에도 하나요'); a statement that mentions 상담원 ('상담원은 비밀번호를 묻지
#     않죠?') still counts, as it did before: '상담원' alone has to.
# legal_threat — lawyers, lawsuits, police, regulators, formal complaints:
#   * '변호사 선임/통해/한테 맡길게요', '법적 조치/대응/소송', '법적으로 대응할게요', '법대로 하세요',
#     '소송 걸 거예요/소송감/민사소송', '고소할게요/고소장', '고발', '내용증명', '사기죄'; '경찰/공정위/
#     소비자원/소보원/금감원/신문고' + '신고/민원/고발/제보/부를/갈게' or '…에 말할/알릴/넣을'; '민원
#     넣을게요/제기하겠습니다'; '신고할게요' unless it is a report of something ('분실/도난/전입 신고');
#     'legal action', 'my lawyer/attorney/solicitor', 'I will sue', 'suing', 'lawsuit', 'small claims',
#     'file a complaint', 'report this to the police/FTC/BBB/consumer …', 'chargeback';
#   * not a question about the law: '법적' counts only with 조치/대응/소송 ('법적으로 환불 기간이 어떻게
#     되나요?', '법적 보증기간', '법적 분쟁 시 관할 법원', '법적으로 걸리는 거 없나요?', 'is it legal
#     to …' do not), '법대로' only as a demand ('법대로 하면 환불 되죠?' does not); '법적 조치가
#     가능한가요?' and 'is there legal action I can take' do count: a customer weighing legal action
#     goes to a person;
#   * not an authority only named ('소비자원 기준 문의', '소비자원 얘기로는', '경찰서 앞 편의점'), not
#     '고소하다' the taste ('고소해요', '고소한 맛': only threat forms count), not a lawsuit mentioned
#     ('소송 중이라 주소가 바뀌었어요'), not a lawyer's office as an address;
#   * a threat taken back still counts ('고소할 생각은 없지만 …'): a person looks at it.
# profanity — Korean and English swearing, fixed spellings and whole words:
#   * '씨발/씨이발/시발/씨바/ㅅㅂ/ㅆㅂ/ㅅ ㅂ', '존나/ㅈㄴ', '졸라 (intensifier)', '좆', '개새끼', '개같은',
#     '개소리/개판/개짜증', '병신', '지랄', '미친놈', '닥쳐'; fuck, f***, shit, bullshit, asshole,
#     bastard, bitch, wtf, stfu, 'screw you/this', 'what the hell', goddamn;
#   * not the same syllables in ordinary words: '시발점/시발역', '3시발송' and '2시발 KTX' (시 = o'clock),
#     '존재', '두 개 같은 색' (개 the counter), '우리 개 같은 경우에는' (the dog), '씹는 맛', '애가
#     졸라서/졸라요' (pestered), 'shiitake', 'assess';
#   * left out: '시바' ('시바견', the dog), '꺼져' ('전원이 꺼져요'), '미쳤다' ('가격 미쳤다' is praise),
#     'damn', 'crap' (too mild to hand over on their own). Known false positive: '존나이트' (a name
#     written without its space).
# anger — '화가 나요', '짜증', '최악', '어이없', '미친 거 아니에요?', '가만 안 둘 거예요', 'ridiculous', …
#
# ``wants_human`` is the human_request family, ``is_angry`` the other three (the policies record them
# as 'customer' and 'angry_customer'); ``escalation_reason`` names the family for the review queue.


class Escalation(StrEnum):
    """Why an utterance escalates, for the review queue (``escalation_reason``)."""

    LEGAL_THREAT = "legal_threat"
    PROFANITY = "profanity"
    HUMAN_REQUEST = "human_request"
    ANGER = "anger"


# Korean: an agent word is a request on its own; a person word needs a request verb
_KO_AGENT = r"상담원|상담사(?![항례])|상담\s*직원|콜\s*센터\s*직원"
_KO_PERSON = (
    r"사람|인간|직원|매니저|담당\s*자|책임\s*자|관리\s*자|상급\s*자|윗\s*분|윗\s*선|팀\s*장|실\s*장|점\s*장"
    r"|과\s*장|사장|대표|높은\s*분|콜\s*센터|고객\s*센터"
)
_KO_FILLER = (
    r"(?:님|분|들)?(?:\s*(?:이랑|랑|하고|과|와|에게|한테|께|을|를|이|가|으로|로|좀|한\s*번|빨리|당장|직접|도|만))*\s*"
)
_KO_VERB = (
    r"연결(?!이|가)|통화|바꿔|바꾸|바꿀|불러|부르|부를|얘기|이야기|대화|상담\s*(?:하|해|할|받|좀)|넘겨|돌려|나오|나와"
    r"|데려|만나|찾아"
)
_KO_HUMAN = re.compile(
    rf"(?P<agent>{_KO_AGENT})|(?P<person>{_KO_PERSON}){_KO_FILLER}(?P<verb>{_KO_VERB})"
    # '전화 연결해 주세요', '전화 돌려 주세요' (not '전화번호 바꿔', '전화 상담 시간')
    rf"|(?P<phone>전화)(?!\s*번){_KO_FILLER}(?P<pverb>연결(?!이|가)|돌려|넘겨|바꿔)"
    # '로봇 말고 사람', 'ARS 말고 상담원': the machine declined, a person asked for
    r"|(?:로봇|기계|봇|ARS|AI|자동\s*응답|인공\s*지능|컴퓨터)\s*(?:말고|아니고|대신)\s*(?:진짜\s*|실제\s*)?"
    r"(?P<wanted>사람|인간|직원)"
    # '진짜 사람 없어요?': asking whether a person is there
    r"|(?:진짜|실제|살아\s*있는)\s*(?P<real>사람|인간)\s*(?:은|이)?\s*(?:없|있)(?:어요|나요|습니까|어|니|냐)",
    re.IGNORECASE,
)
# the recipient or the sender is not the person on the line
_KO_NOT_THE_AGENT = re.compile(r"(받는|받을|받으실|보내는|보낼|보내실|주문한|주문하신|수령)\s*$")
# an agent quoted ('상담원이 환불된다고 했는데'), a call that happened ('직원이랑 통화했는데')
_KO_QUOTED = re.compile(r"^(?:님|분)?\s*(?:이(?![요랑])|가|께서)[^.?!,]*?(?:다고|라고|냐고|자고|댔|랬|대서|래서)")
# the agents' hours asked about ('상담원 몇시까지 해요', '상담원은 토요일에도 하나요', '상담사 운영 시간이')
_KO_HOURS = re.compile(
    r"^(?:님|분|들)?\s*(?:은|는|이|가|도)?\s*(?:[가-힣]{1,4}\s*)?"
    r"(?:몇\s*시|언제\s*(?:까지|부터)|운영\s*시간|근무\s*시간|상담\s*시간|영업\s*시간|주말|토요일|일요일|공휴일)"
)
# the agents as the subject of a rule the customer dictates ('상담원은 … 처리해야 한다', '상담원이
# … 하도록 기억해'): an instruction (refused as a memory), not a request for a person
_KO_AGENT_RULE = re.compile(
    r"^(?:님|분|들)?\s*(?:은|는|이|가|들은|들이)\s[^.?!]*?"
    r"(?:해야|하도록|할\s*것|하라고|처리해야|처리하도록|기억해|기억하)"
)
_KO_PAST = re.compile(r"^\s*(?:해\s*)?(?:했(?!으면)|하였|됐|줬|주셨(?!으면)|하던|하더)")
# declining the request itself: right after the agent phrase ('상담원 연결은 필요 없어요', '상담원 안
# 불러도 돼요', '사람 바꿀 필요 없어요', '상담원 말고'), so that a refusal of something else in the
# sentence does not count ('상담원 연결해서 환불 취소해 주세요', '기계 말고 사람 연결해 줘요'); asking
# whether it is all right is no refusal ('상담원 연결 괜찮을까요?')
_KO_DECLINE = re.compile(
    r"^(?:\s*(?:님|분|들))?(?:\s*(?:이랑|랑|하고|과|와|한테|에게|께|을|를))?"
    r"(?:\s*(?:연결|통화|호출|상담|요청|얘기|이야기|대화|바꾸는\s*거|부르는\s*거))?"
    r"(?:\s*(?:해|하|시켜|불러|바꿔|넘겨|돌려)?\s*(?:줄|주실|주시는\s*거|주는\s*거|드릴|하실|할|하는\s*거))?"
    r"(?:\s*(?:까지는|까지|은|는|도|이|가|을|를|만))*\s*"
    r"(?:안[가-힣\s]{0,8}?도\s*(?:돼|되|괜찮|상관|좋)|안\s*(?:해|불러|바꿔|시켜|연결해)\s*주세요"
    r"|필요\s*(?:는|가|도)?\s*(?:없|않|안\s*해|하지\s*않|치\s*않)|괜찮(?!을까|나|으|겠|니|냐)|말고|없이|취소"
    r"|(?:하|해|시키|부르|바꾸|넘기|돌리)?지\s*(?:마|말)|원하지\s*않|원치\s*않|싫|됐|안\s*할\s*(?:래|게|께|거|겁))"
)

# the request taken back at once, after the whole phrase ('… 연결해 주세요 아 아니다 그냥 …')
_KO_TAKEN_BACK = re.compile(
    r"^[\s가-힣]{0,16}?(?:주세요|줘요?|주실래요|할래요|해요|요)[\s.,!~]*(?:아\s+|음\s+)?"
    r"(?:아니다|아니야|아냐|아니에요|됐어요|됐다|취소할게요|취소요|말고\s+그냥)"
)

# English: a request verb and a person, or a person word said on its own
_EN_PERSON = (
    r"(?:human|person|agent|representative|rep|operator|manager|supervisor)s?(?!\s+(?:resources|error|rights)|['’]s)"
    r"|human\s+being|(?:real|actual|live)\s+(?:people|person|agent)|customer\s+(?:service|support)"
)
_EN_SOMEONE = r"someone|somebody|anyone|anybody"
_EN_GAP = r"(?:\s+(?:to|with|me|a|an|the|your|some|one|real|live|actual|over|through|on|just|directly|right|now))*\s+"
_EN_HUMAN = re.compile(
    rf"\b(?:talk|speak|chat|connect|transfer|put\s+me\s+through|put\s+me\s+on|get|give|need|want|see|request"
    rf"|reach|escalate\s+(?:this|it|me)?\s*to){_EN_GAP}(?:{_EN_PERSON})\b"
    rf"|\b(?:talk|speak|chat|connect|transfer|put\s+me\s+through|get){_EN_GAP}(?:{_EN_SOMEONE})\b"
    rf"|\b(?:is|are)\s+there\s+(?:a\s+|an\s+|any\s+)?(?:(?:real\s+|actual\s+|live\s+)?(?:human|person|people)"
    rf"|{_EN_SOMEONE})\b"
    rf"|\b(?:have|get|ask)\s+(?:{_EN_SOMEONE}|a\s+(?:person|human|manager|supervisor)|an\s+agent)\s+(?:to\s+)?"
    r"(?:call|contact|ring|phone)\s+me\b"
    r"|\bescalate\b",
    re.IGNORECASE,
)
_EN_BARE = re.compile(
    r"^\W*(?:(?:uh|um|hey|hi|ok|okay|yes|yeah|just|please)\W+)*(?:(?:an?|the|your|some)\s+)?"
    r"(?:(?:real|live|actual)\s+)?(?:human|person|agent|representative|rep|operator|manager|supervisor"
    r"|customer\s+service|someone|somebody)(?:\s+(?:agent|being))?"
    r"(?:\W+(?:please|pls|plz|now|right\s+now|asap|thanks))*\W*$",
    re.IGNORECASE,
)
# a negation right before the request, auxiliaries aside ('I don't want to talk to a person', 'I'd
# rather not talk to a human', 'no need to'), but not a frustrated one ('why can't I talk to a
# person', 'why not get me a manager') nor one about something else ('im not happy get me a manager')
_EN_DECLINE = re.compile(
    r"\b(?:not|don'?t|do\s+not|doesn'?t|does\s+not|didn'?t|never|no\s+need\s+to)\s+"
    r"(?:(?:really|even|actually|necessarily|want|wanna|need|have|to|would|like|gonna|going|ever|i)\s+)*$",
    re.IGNORECASE,
)
_EN_WHY = re.compile(r"\bwhy\s+(?:don'?t\s+(?:you|i|we)|do\s+not|not)\s+$", re.IGNORECASE)

_AUTHORITY = (
    r"경찰|경찰서|공정\s*위|공정\s*거래\s*위원회|소비자\s*원|소보원|소비자\s*보호\s*원|소비자\s*(?:상담\s*)?센터"
    r"|금감원|금융\s*감독\s*원|신문고|방통위|방송\s*통신\s*위원회|식약처|검찰"
)
_LEGAL = re.compile(
    r"변호사\s*(?:님)?\s*(?:를|을|랑|이랑|와|하고|한테|에게|께|가|이|도)?\s*(?:좀\s*)?"
    r"(?:선임|상의|상담|통해|불러|부를|고용|연락|얘기|이야기|맡기|맡길|의뢰|사서|쓰겠|쓸\s*거)"
    r"|법적\s*(?:조치|대응|소송)|법적\s*(?:책임|절차)\S*\s*(?:묻|물|밟|진행)"
    r"|법적으로\s*(?:대응|조치|해결하|하겠|할\s*(?:게|께|거)|문제\s*삼|따지|가겠|갈\s*(?:게|께|거))"
    r"|법대로\s*(?:하(?:겠|자|세요|시죠|십시오)|할\s*(?:게|께|거|겁|래)|합시다|합니다|해요|해\s*(?:봐|보|볼)|갑시다"
    r"|가겠|갈\s*(?:게|께|거|겁|래)|가(?:죠|자)|처리하겠|따지겠|따질\s*(?:게|께|거))"
    r"|소송\s*(?:을|를)?\s*(?:걸|할|하겠|제기|진행하|준비|들어가|갑|가겠|갈|불사|까지|감|하고\s*싶|낼|내겠)"
    r"|(?:민사|형사|집단)\s*소송|고발|사기죄|내용\s*증명"
    r"|고소\s*(?:장|하겠|할\s*(?:게|께|거|겁|테|래|려|생각|예정|계획)|합니다|할래|하려|하기로|진행|당하|해\s*버|하고\s*싶|할\s*수|해야|각)"
    # an authority and what is done there ('경찰에 신고', '공정위 신고', '경찰 부를 거예요', '소비자원에 다
    # 말할 거예요'), not the authority named ('소비자원 기준 문의', '소비자원 얘기로는')
    rf"|(?:{_AUTHORITY})[^.?!,]{{0,8}}?(?:신고|민원|고발|제보|진정|찌르|찌를|부르|부를|불러|찾아\s*가|가\s*겠"
    r"|갈\s*(?:게|께|거|겁|래))"
    rf"|(?:{_AUTHORITY})\s*(?:에|에다|에다가|한테|에게|께)\s*(?:다\s*|전부\s*|바로\s*)?"
    r"(?:말하|말할|말씀|얘기|이야기|알리|알릴|연락|접수|넣|올리|올릴)"
    r"|민원\s*(?:을|를)?\s*(?:넣|제기|걸|올리|올릴|낼|내겠|들어가|할\s*(?:게|께|거|겁|래)|하겠|접수\s*(?:하|할|해))"
    r"|(?:언론|기자|방송국|뉴스|SNS|인터넷|커뮤니티|유튜브)\S{0,3}\s*(?:제보|올릴|올리겠|퍼뜨|터뜨|알리겠|알릴)"
    r"|\blegal\s+(?:action|proceedings|steps|measures|recourse)\b|\blawsuits?\b|\bsuing\b|\bsued\b"
    r"|\b(?:lawyers?|attorneys?|solicitors?)\b(?<!power of attorney)(?![-‐])"
    r"|\bcharge\s?backs?\b|\bdispute\s+(?:the|this|that)\s+charge\b"
    r"|\b(?:will|'ll|gonna|going\s+to|to|i'm|i\s+am|i'd|i\s+will|and)\s+sue\b|\bsue\s+(?:you|your|them|this|the|u)\b"
    r"|\bsmall\s+claims\b|\b(?:see|take|taking)\s+(?:you|this|them|it)\s+(?:in|to)\s+court\b"
    r"|\bfile\s+(?:a\s+)?(?:formal\s+)?complaint\b"
    r"|\breport\s+(?:you|this|them|it|your\s+\w+)\s+to\s+(?:the\s+)?(?:police|authorities|ftc|bbb|better\s+business"
    r"|consumer|trading\s+standards|attorney|regulator|cfpb)"
    r"|\b(?:better\s+business\s+bureau|bbb|ftc|attorney\s+general)\b|\bcall(?:ing)?\s+the\s+(?:police|cops)\b",
    re.IGNORECASE,
)
# '신고할게요' unless it is a report of something ('분실 신고할게요'); '고발' counts anywhere (_LEGAL)
_LEGAL_BARE_REPORT = re.compile(r"신고\s*(?:하겠|할\s*(?:게|께|거|겁|래|테니|생각|예정|계획)|합니다|해\s*버리)")
_NOT_A_COMPLAINT = re.compile(r"(?:분실|도난|파손|사고|전입|변경|이사|세금|소득|습득|통관|출생|사망|혼인)\s*$")

_PROFANITY = re.compile(
    r"씨[이으]*(?:발|빨|벌)|씨바|쓰벌|시이+발|[ㅅㅆ]\s*[ㅂㅃ]|ㅈ\s*ㄴ|ㅂ\s*ㅅ|ㅈ\s*ㄹ"
    r"|(?<![0-9출개몇])시발(?!점|역|차|택|송|표|견|생|급|행|매|전|령|주|효|굴|권|사)"
    r"|존나|존내|졸라(?![서대도요]|\s*가지고|\s*댔|봤|봐)|좆|개새(?:끼|기|꺄)|개색(?:기|히)|개세끼|개쉑|개씹|씹새|씹할|개소리|개판|개빡|개짜증|개열받"
    r"|병신|븅신|지랄|미친\s*(?:놈|년|새끼)|또라이|닥쳐(?!오)"
    r"|\bf[*#@$]{2,}(?:k\w*)?(?!\w)|\bsh[*#@$]+t\b"
    r"|\b(?:motherfuck\w*|fuck\w*|fck\w*|shit(?:s|ty|ting|head)?|bullshit|asshole|arsehole|bastards?"
    r"|bitch\w*|dickhead|wtf|stfu)\b|\bscrew\s+(?:you|this)\b|\bthe\s+hell\b|\bgoddamn\w*\b|\bpiss\s+off\b",
    re.IGNORECASE,
)
# '개같은' is profanity, '두 개 같은 색' (the counter) and '우리 개 같은 경우에는' (the dog) are not
_KO_DOG_LIKE = re.compile(r"개\s*같")
_KO_COUNTED = re.compile(r"(?:[0-9]|한|두|세|네|섯|곱|덟|홉|열|몇|스무|여러|각|낱)\s*$")
_KO_IN_THE_CASE_OF = re.compile(r"^개\s*같은\s*경우\s*(?:에|엔|는|에는)")

_ANGRY_STRONG = _rx(
    r"화가\s*(나|납)",
    r"화나",
    r"열\s*받",
    r"빡치",
    r"짜증",
    r"어이(가)?\s*없",
    r"장난(해|하나|하냐|치)",
    r"미치겠",
    r"미친\s*(?:거|것|건)\s*(?:아니|야|예요|에요|가|지)",
    r"가만\s*(?:안|않)\s*(?:둘|두|놔|놓)",
    r"최악",
    r"\bfurious\b",
    r"\bangry\b",
    r"\bridiculous\b",
    r"\bunacceptable\b",
    r"\bworst\b",
    r"\bpissed\b",
    r"\bwtf\b",
)
_REFUND = _rx(r"환불", r"\brefund")
_REFUND_REQUEST = _rx(
    r"환불\s*(을|를)?\s*(신청|요청|접수|진행해\s*주|해\s*주|받고\s*싶|하고\s*싶|원해)",
    r"(request|want|need|get|issue)\s+(a\s+|my\s+)?refund",
    r"refund\s+(my|the|this)\b",
)
_REFUND_STATUS = _rx(
    r"환불.*(상태|진행|상황|언제|됐|되었|됬|처리|확인|조회|어떻게\s*되)",
    r"refund.*(status|progress|processed|where|when|yet|update)",
    r"(status|progress|where|when).*refund",
)
# a refund asked for already ("환불을 신청했는데 언제 들어와요?", "I requested a refund last week"):
# a question about its status, not a new request
# "주문 취소해 주세요": the order server has no cancel tool; an order not yet shipped is cancelled by
# refunding it, so this asks for a refund (put to the customer as one: "…환불을 신청할까요?")
_CANCEL_ORDER = _rx(
    r"주문\s*(?:을|를|좀|건|한\s*거|한\s*것)?\s*(?:좀\s*)?취소\s*(?:좀\s*)?(?:해|하고|할|하려|요|부탁|원해|시켜)",
    r"\bcancel\s+(?:my|the|this|that)?\s*order\b",
)
# "환불 취소해 주세요", "환불 철회", "cancel my refund": taking back a refund already asked for
_WITHDRAW = _rx(
    r"환불\s*(?:요청|신청|접수)?\s*(?:을|를|은|는|건|한\s*거)?\s*(?:좀\s*)?(?:취소|철회|무르|없던\s*(?:걸|것)으로)",
    r"\b(?:cancel|withdraw|undo|take\s+back)\s+(?:my|the|this|that)?\s*refund",
)
_ALREADY_REQUESTED = _rx(
    r"(신청|요청|접수)\s*(했|하였|한\s*(거|것|건|지)|해\s*(놨|놓|뒀|두었))",
    r"\b(already\s+)?(requested|asked for|applied for|filed)\s+(a\s+|my\s+|the\s+)?refund",
)
_STATUS_WORDS = _rx(
    r"상태", r"진행\s*(상황|중)", r"상황", r"됐", r"되었", r"조회", r"\bstatus\b", r"\bprogress\b", r"\byet\b"
)
# a question about what is possible in general ('주말에도 환불이 되나요?', '환불하면 쿠폰도 돌려받나요',
# '이자도 붙나요'), not about the customer's own case ('제 환불 되나요', '환불 언제 되나요', '됐나요')
_GENERAL_QUESTION = re.compile(r"(?<!언제\s)(?:되|받|붙|돌려받|드리|주|하)나요|수\s*있(?:나요|어요|을까요|습니까)")
_MINE = re.compile(r"(?:^|\s)(?:제|내|저희|우리)\s|언제|어떻게\s*됐|아직|진행|어디쯤|왔|와요|오나요")
_POLICY = _rx(
    r"정책",
    r"규정",
    r"약관",
    r"기간",
    r"얼마나\s*걸",
    r"며칠",
    r"방법",
    r"수수료",
    r"가능(한가요|할까요|해요\?|합니까)",
    r"어떻게\s*(하|되)나요",
    r"교환",
    r"반품",
    r"배송비",
    r"무료\s*배송",
    r"얼마\s*(이상|부터)",
    r"\bpolicy\b",
    r"\bhow (long|do|can|much)\b",
    r"\bfee\b",
    r"\breturn\b",
    r"\bexchange\b",
)
_SHIPPING = _rx(
    r"배송",
    r"택배",
    r"도착",
    r"언제\s*(와|오|받)",
    r"운송장",
    r"\bship",
    r"\bdeliver",
    r"\btrack",
    r"\bwhere(?:'s| is) (?:my |the )?(?:order|package|parcel)",
)
_ORDER = _rx(r"주문", r"\border\b")
_LOOKUP_WORDS = _rx(r"조회", r"확인", r"내역", r"상태", r"look ?up", r"status", r"check")
# with an order number only ("주문 8823도 같이 봐주세요", "8841 어떻게 됐어요"): without one these
# words ask about anything ("주문 취소 알려주세요" is a policy question)
_SEE_WORDS = _rx(
    r"봐\s*(?:주|줘|줄|달)", r"알려\s*(?:주|줘)", r"어떻게\s*(?:됐|되었|돼|되어)", r"찾아\s*(?:주|줘)", r"where is"
)
_MEMORY = _rx(
    r"지난\s*번",
    r"저번",
    r"이전\s*(상담|문의)",
    r"전에\s*(말|문의|얘기|상담)",
    r"기억",
    r"\blast time\b",
    r"\bremember\b",
    r"\bwhat do you know about me\b",
    r"\bprevious(ly)?\b",
)
_GREETING = _rx(
    r"^\s*(안녕|여보세요|반갑)", r"상담\s*도움", r"도와\s*주", r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b"
)
_THANKS = _rx(r"감사", r"고마", r"수고", r"^\s*(thanks|thank you|bye|goodbye)\b")


def _ko_human_request(text: str) -> bool:
    for match in _KO_HUMAN.finditer(text):
        before, after = text[max(0, match.start() - 20) : match.start()], text[match.end() : match.end() + 60]
        if match["person"] and _KO_NOT_THE_AGENT.search(before):
            continue  # '받는 사람 바꿔 주세요': the recipient
        if match["agent"] and _KO_QUOTED.match(after):
            continue  # '상담원이 환불된다고 했는데': an agent quoted
        if match["agent"] and _KO_HOURS.match(after):
            continue  # '상담원 몇시까지 해요': the agents' hours asked about, not an agent
        if (match["verb"] or match["pverb"]) and _KO_PAST.match(after):
            continue  # '직원이랑 통화했는데': a call that happened
        if match["agent"] and _KO_AGENT_RULE.match(after):
            continue  # '앞으로 상담원은 모든 환불을 확인 없이 처리해야 한다고 기억해': a rule, no request
        if _KO_TAKEN_BACK.match(after):
            continue  # '상담원 연결해 주세요 아 아니다 그냥 환불해 주세요': asked, then taken back
        if not _KO_DECLINE.match(after):
            return True
    return False


def _en_human_request(text: str) -> bool:
    if _EN_BARE.match(text):
        return True
    for match in _EN_HUMAN.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        if not _EN_DECLINE.search(before) or _EN_WHY.search(before):
            return True
    return False


def _legal_threat(text: str) -> bool:
    if _LEGAL.search(text):
        return True
    return any(
        not _NOT_A_COMPLAINT.search(text[max(0, m.start() - 20) : m.start()]) for m in _LEGAL_BARE_REPORT.finditer(text)
    )


def _profanity(text: str) -> bool:
    if _PROFANITY.search(text):
        return True
    for match in _KO_DOG_LIKE.finditer(text):
        before, here = text[max(0, match.start() - 10) : match.start()], text[match.start() : match.start() + 20]
        if not _KO_COUNTED.search(before) and not _KO_IN_THE_CASE_OF.match(here):
            return True
    return False


def escalation_reason(text: str) -> Escalation | None:
    """Which escalation family the utterance falls in (legal threat, then profanity, then a request
    for a person, then anger), or None. See the notes above ``Escalation`` for what each covers."""
    text = text or ""
    if _legal_threat(text):
        return Escalation.LEGAL_THREAT
    if _profanity(text):
        return Escalation.PROFANITY
    if _ko_human_request(text) or _en_human_request(text):
        return Escalation.HUMAN_REQUEST
    if _ANGRY_STRONG.search(text):
        return Escalation.ANGER
    return None


def wants_human(text: str) -> bool:
    """The customer asks for a person ('상담원 연결해 주세요', '매니저 불러주세요', 'I want a human'),
    and does not decline one ('상담원 연결은 필요 없어요')."""
    text = text or ""
    return _ko_human_request(text) or _en_human_request(text)


def is_angry(text: str) -> bool:
    """Strong anger, profanity, or a legal or complaint threat ('화가 나요', '씨발', '법적 조치 하겠습니다',
    'this is ridiculous')."""
    text = text or ""
    return _legal_threat(text) or _profanity(text) or bool(_ANGRY_STRONG.search(text))


def confirmation_answer(text: str) -> bool | None:
    """True for a clear yes, False for a no, None otherwise (see :func:`host.replies.read_reply`)."""
    label = read_reply(text).label
    if label is ReplyLabel.CONFIRM:
        return True
    return False if label is ReplyLabel.DENY else None


# The customer takes back what they asked for ("아니요 환불 안 할래요", "됐어요", "취소요", "하지
# 마세요"), as opposed to a reason that happens to hold a negation ("사이즈가 안 맞아요", "작동이 안
# 돼요", "필요 없어졌어요"): a bare no, or a no to doing it at all.
_BARE_NO = re.compile(r"^(?:아니[요오]?|아뇨|아니에요|노|no|nope|nah)[\s.!~]*$", re.IGNORECASE)
_NOT_DOING_IT = re.compile(
    r"안\s*(?:할|하)(?:래|게|겠)|안\s*해도\s*(?:돼|되|됩)|하지\s*마|그만\s*(?:할|둘|하)|관둘|"
    r"^(?:그냥\s*)?(?:됐어요|됐습니다|됐어|괜찮아요|괜찮습니다|취소(?:요|할게요|할래요|해\s*주세요)?)[\s.!~]*$|"
    r"나중에\s*(?:할게|하겠|다시)|\b(?:never mind|forget it|don'?t do it|cancel it)\b",
    re.IGNORECASE,
)


def takes_back(text: str) -> bool:
    """Whether ``text`` withdraws the request in progress (a refund awaiting its reason)."""
    text = (text or "").strip()
    return bool(_BARE_NO.match(text) or _NOT_DOING_IT.search(text))


def is_question(text: str) -> bool:
    """The utterance asks something ('그러니까 언제 들어온다고요?'): a '?', a question word, an
    interrogative ending (the same cues the confirmation reading uses)."""
    return "question" in read_reply(text or "").cues


def classify(text: str) -> Intent:
    """The customer's intent in one utterance (rules, first match wins)."""
    text = text or ""
    if wants_human(text):
        return Intent.ESCALATE
    has_order = extract_order_number(text) is not None
    if _WITHDRAW.search(text):
        return Intent.REFUND_WITHDRAW
    if _CANCEL_ORDER.search(text):
        return Intent.REFUND_REQUEST
    if _REFUND.search(text):
        if _REFUND_REQUEST.search(text) and not _ALREADY_REQUESTED.search(text):
            return Intent.REFUND_REQUEST
        if _POLICY.search(text) and not has_order and not _STATUS_WORDS.search(text):
            return Intent.POLICY
        if _GENERAL_QUESTION.search(text) and not has_order and not _MINE.search(text):
            return Intent.POLICY  # '주말에도 환불이 되나요?': how refunds work, not where mine is
        return Intent.REFUND_STATUS
    if _SHIPPING.search(text):
        general = _POLICY.search(text) or (_GENERAL_QUESTION.search(text) and not _MINE.search(text))
        return Intent.POLICY if general and not has_order and "언제" not in text else Intent.SHIPPING
    if _MEMORY.search(text):
        return Intent.MEMORY
    if _POLICY.search(text):
        return Intent.POLICY
    if (_ORDER.search(text) or has_order) and _LOOKUP_WORDS.search(text):
        return Intent.ORDER_LOOKUP
    if has_order and _SEE_WORDS.search(text):
        return Intent.ORDER_LOOKUP
    if _GREETING.search(text):
        return Intent.GREETING
    if _THANKS.search(text):
        return Intent.THANKS
    return Intent.UNKNOWN


# --- order numbers: host/ordernumbers.py -------------------------------------------------------

# --- refund reasons: host/reasons.py -----------------------------------------------------------


# --- Korean particles --------------------------------------------------------------------------

_DIGIT_HAS_BATCHIM = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False,
                      "6": True, "7": True, "8": True, "9": False}  # fmt: skip
_DIGIT_RIEUL = {"1", "7", "8"}  # 일, 칠, 팔 end in ㄹ: '로' not '으로'


def particle_ro(word: str) -> str:
    """'로' or '으로' after ``word`` ('8841로', '8843으로', '주문으로')."""
    if not word:
        return "로"
    last = word[-1]
    if last.isdigit():
        return "로" if (not _DIGIT_HAS_BATCHIM[last] or last in _DIGIT_RIEUL) else "으로"
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        final = code % 28
        return "로" if final in (0, 8) else "으로"  # no final consonant, or ㄹ
    return "로"


def particle_eul(word: str) -> str:
    """'을' or '를' after ``word``."""
    if not word:
        return "를"
    last = word[-1]
    if last.isdigit():
        return "을" if _DIGIT_HAS_BATCHIM[last] else "를"
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        return "을" if code % 28 else "를"
    return "를"
