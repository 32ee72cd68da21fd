"""Escalation rules: when an utterance asks for a person, threatens, swears, is angry, or is frustrated.

Plain patterns over the text (no kiwi), used by the engine's policies (host/escalation.py) whatever
the provider, and by the offline planner (a frustrated customer is offered a person). Split out of
host/nlu.py, which re-exports the public names.
"""

from __future__ import annotations

import re
from enum import StrEnum


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
#   * a person word said on its own ('사람', '사람이요', '직원분이요', '진짜 사람'; not '사람이요?'), with a
#     person ('사람이랑 말하고 싶어요'); the bot refused ('너 말고', 'AI 말고요', '봇 말고 다른 사람', '봇이랑
#     말하기 싫어요', '로봇이랑 얘기 안 해', "I don't want to talk to a bot", 'no more bots'), not a product
#     ('로봇청소기 말고', '로봇 말고 다른 장난감', 'AI 스피커');
#   * not an agent told, in the past or the third person ('상담원한테 물어봤는데 환불 된다던데요',
#     '상담사한테 들었는데 3일 걸린대요'), unless a person is asked for again ('… 다시 연결해 주세요');
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
    r"|(?:진짜|실제|살아\s*있는)\s*(?P<real>사람|인간)\s*(?:은|이)?\s*(?:없|있)(?:어요|나요|습니까|어|니|냐)"
    # '사람이랑 말하고 싶어요', '사람하고 할래요': with a person (이랑/하고), to speak
    r"|(?P<withp>사람|인간|직원)(?:님|분|들)?\s*(?:이랑|랑|하고|과|와)\s*(?:좀\s*|직접\s*)?"
    r"(?P<wverb>말\s*(?:하|할|좀|해)|하고\s*싶|할래|할게)",
    re.IGNORECASE,
)
# the machine (or 'you', the bot) refused: '너 말고', 'AI 말고요', '봇 말고 다른 사람', '봇이랑 말하기 싫어요',
# '로봇이랑 얘기 안 해'; not a product ('로봇청소기 말고', '로봇 말고 다른 장난감도 있어요?', '로봇이 작동을
# 안 해요', 'AI 스피커')
_KO_MACHINE = r"(?<![가-힣A-Za-z])(?:챗\s*봇|봇|로봇|기계|AI|에이아이|인공\s*지능|자동\s*응답|ARS|컴퓨터|너|넌|당신)"
_KO_NOT_THE_MACHINE = re.compile(
    rf"{_KO_MACHINE}\s*(?:말고|아니고|대신|빼고)\s*"
    r"(?:(?:요|여)?\s*[.!~]*\s*$|(?:(?:진짜|실제|다른|딴|살아\s*있는)\s*)*(?:사람|인간|직원|상담|담당|매니저|분(?![가-힣])|누구))"
    rf"|{_KO_MACHINE}\s*(?:이랑|랑|하고|과|와|한테|에게)?(?:는|은|도)?\s*(?:더\s*|계속\s*|그만\s*)?"
    r"(?:말|얘기|이야기|대화|통화|상담)[가-힣]{0,3}\s*(?:좀\s*|더\s*)?(?:싫|안\s*(?:해|할|하|합)|않|그만|못\s*하겠|지겨|질리)"
    r"|(?<![가-힣A-Za-z])(?:챗\s*봇|봇|AI|기계|자동\s*응답|ARS)\s*(?:은|는|이|가)?\s*(?:싫|지겨|질려)",
    re.IGNORECASE,
)
# a person word said on its own: '사람', '사람이요', '직원분이요', '진짜 사람', '사람 좀요' (not '사람이요?')
_KO_BARE_PERSON = re.compile(
    r"^\W*(?:(?:그냥|진짜|실제|좀|빨리|아|어|음)\s*)*(?:살아\s*있는\s*)?"
    r"(?:사람|인간|직원|담당\s*자|매니저|책임\s*자|상담\s*직원)(?:님|분|분들)?"
    r"(?:\s*(?:이요|요|좀|좀요|으로요|으로|이랑요|부탁(?:해요|합니다|드려요|드립니다)?|연결|빨리|요요))*\s*[.!~]*$"
)
# an agent in the past or the third person ('상담원한테 물어봤는데 환불 된다던데요', '상담원이랑 통화했는데',
# '상담사한테 들었는데'): told, not asked for; unless a person is asked for again in the same breath
_KO_AGENT_PARTICLE = re.compile(r"^(?:님|분|들)*\s*(?:한테서|에게서|께서|한테|에게|께|이랑|랑|하고|과|와|이|가|은|는)")
_KO_HEARD = re.compile(r"던데|다던|라던|더라|댔|랬|[대래](?:요|서)|다고|라고")
_KO_ASKS_AGAIN = re.compile(r"(?:연결|바꿔|불러|통화)\s*(?:을|를)?\s*(?:좀\s*)?(?:해\s*)?(?:주|줘|달|부탁)|다시\s*연결")
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
    r"|기\s*(?:는\s*)?싫|(?:하|해|시키|부르|바꾸|넘기|돌리)?지\s*(?:마|말)|원하지\s*않|원치\s*않|싫|됐|안\s*할\s*(?:래|게|께|거|겁))"
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
# the machine refused: "I don't want to talk to a bot", 'not a bot, a person', 'no more bots', "I'm done
# talking to a machine" (the bot word ends the clause: not 'I don't want the robot vacuum')
_EN_NO_BOT = re.compile(
    r"\b(?:don'?t|do\s+not|not|no|no\s+more|done\s+(?:talking|chatting)|sick\s+of|tired\s+of|hate|stop)\b"
    r"[^.?!]{0,30}?\b(?:chat\s*bots?|bots?|robots?|machines?|ai|computers?|automated\s+(?:system|service|replies))\b"
    r"(?=\s*(?:$|[.,!;]|please\b|anymore\b|any\s+more\b))",
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
    # posting it publicly ('인터넷에 다 올릴게요', '맘카페에 올릴게요', 'SNS에 다 퍼뜨릴 거예요')
    r"|(?:언론|기자|방송국|뉴스|SNS|인터넷|커뮤니티|유튜브|블로그|카페|트위터|인스타|페이스북|게시판|온라인)\S{0,3}\s*"
    r"(?:다\s*|전부\s*|싹\s*|몽땅\s*|이거\s*|이\s*일\s*)?(?:제보|올릴|올리겠|올려\s*버|퍼뜨|퍼트|터뜨|알리겠|알릴|박제)"
    r"|\b(?:post|put|share|spread|expose)\s+(?:this|it|you|everything|all\s+of\s+this)\b[^.?!]{0,30}?"
    r"\b(?:internet|online|twitter|facebook|instagram|reddit|tiktok|youtube|social\s+media)\b"
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


def _told_not_asked(after: str) -> bool:
    """After an agent word: a past or reported clause ('한테 물어봤는데 …', '이랑 통화했는데', '한테
    들었는데 … 걸린대요'), with no request for a person after it."""
    if not _KO_AGENT_PARTICLE.match(after):
        return False  # '상담원 연결해 준다고 했잖아요': the agent is what was asked for
    clause = re.split(r"[.?!]", after, maxsplit=1)[0][:40]
    past = any(_past_syllable(clause, i) for i in range(len(clause))) or _KO_HEARD.search(clause)
    return bool(past) and not _KO_ASKS_AGAIN.search(after)


def _past_syllable(text: str, index: int) -> bool:
    """A syllable with the past tense's final ㅆ (했, 봤, 었, 렸), not a wish ('통화했으면')."""
    code = ord(text[index]) - 0xAC00
    if not (0 <= code < 11172 and code % 28 == 20) or text[index] in "겠있없":  # 겠 (will), 있/없 (be) are no past
        return False
    return not re.match(r"(?:으면|다면|더라면)", text[index + 1 : index + 4])


def _ko_human_request(text: str) -> bool:
    if _KO_BARE_PERSON.match(text) or _KO_NOT_THE_MACHINE.search(text):
        return True
    for match in _KO_HUMAN.finditer(text):
        before, after = text[max(0, match.start() - 20) : match.start()], text[match.end() : match.end() + 60]
        if match["person"] and _KO_NOT_THE_AGENT.search(before):
            continue  # '받는 사람 바꿔 주세요': the recipient
        if match["agent"] and _KO_QUOTED.match(after):
            continue  # '상담원이 환불된다고 했는데': an agent quoted
        if match["agent"] and _told_not_asked(after):
            continue  # '상담원한테 물어봤는데 환불 된다던데요': an agent mentioned, nothing asked of one
        if match["agent"] and _KO_HOURS.match(after):
            continue  # '상담원 몇시까지 해요': the agents' hours asked about, not an agent
        if (match["verb"] or match["pverb"] or match["wverb"]) and _KO_PAST.match(after):
            continue  # '직원이랑 통화했는데': a call that happened
        if match["agent"] and _KO_AGENT_RULE.match(after):
            continue  # '앞으로 상담원은 모든 환불을 확인 없이 처리해야 한다고 기억해': a rule, no request
        if _KO_TAKEN_BACK.match(after):
            continue  # '상담원 연결해 주세요 아 아니다 그냥 환불해 주세요': asked, then taken back
        if not _KO_DECLINE.match(after):
            return True
    return False


def _en_human_request(text: str) -> bool:
    if _EN_BARE.match(text) or _EN_NO_BOT.search(text):
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


# frustration — the conversation is not working ('답답해 죽겠네', '말이 안 통하네', '같은 말만 반복하네', '몇 번을
# 말해요', '쓸모없는 봇', "you're useless", 'this is not helping'). Not escalated at once: the offline planner
# offers a person on the second frustrated turn of a session. Not a product called useless ('쓸모없는
# 물건이라 환불하고 싶어요', 'the blender is useless') nor a help question ('도움말').
_FRUSTRATED = re.compile(
    r"답답|말이?\s*안\s*통|말귀|못\s*알아\s*듣|못\s*알아들|알아\s*듣지\s*못|이해(?:를|가)?\s*못\s*하|이해\s*를?\s*못"
    r"|(?:같은|똑같은)\s*(?:말|소리|얘기|대답)\s*만|반복\s*만|몇\s*번(?:을|이나|째)\s*(?:말|얘기|설명)"
    r"|대화가?\s*안\s*(?:되|돼)|도움(?:이|은)?\s*(?:하나도|전혀|1도|일도|별로|진짜)?\s*안\s*(?:되|돼)"
    r"|하나도\s*도움이?\s*안|소용\s*(?:이\s*)?없|무슨\s*말인지\s*(?:하나도\s*)?(?:모르|못)|엉뚱한\s*(?:소리|대답|말)"
    r"|(?:너|넌|당신|봇|챗봇|AI|기계|로봇)\s*(?:은|는|이|가|진짜|정말|완전)?\s*(?:진짜\s*|정말\s*|완전\s*)?(?:쓸모\s*없|바보|멍청|한심)"
    r"|쓸모\s*(?:가\s*)?없(?:는|다는)?\s*(?:봇|챗봇|로봇|AI|기계|상담|서비스|시스템)"
    r"|^\W*(?:(?:아|진짜|정말|완전)\s*)*쓸모\s*(?:가\s*)?없(?:네|다|어|네요|군|구나|어요)\W*$"
    r"|\b(?:you(?:'re|\s+are)?|this\s+is|that'?s|it'?s|this\s+bot\s+is|what\s+a)\s+"
    r"(?:so\s+|completely\s+|utterly\s+|totally\s+|absolutely\s+)?(?:useless|hopeless|pointless)\b"
    r"|\buseless\s+(?:bot|ai|machine|chatbot|assistant|service)\b|^\W*(?:useless|pointless)\W*$"
    r"|\b(?:not|isn'?t|aren'?t)\s+(?:\w+\s+)?(?:helping|helpful)\b|\byou\s+(?:don'?t|do\s+not|never)\s+(?:understand|listen|get\s+it)\b"
    r"|\bare\s+you\s+(?:even\s+)?listening\b|\balready\s+told\s+you\b|\btold\s+you\s+already\b"
    r"|\bhow\s+many\s+times\b|\bwaste\s+of\s+(?:my\s+)?time\b|\bgoing\s+in\s+circles\b|\bfrustrat\w*",
    re.IGNORECASE,
)


def frustrated(text: str) -> bool:
    """The customer is frustrated with the conversation ('답답해 죽겠네', '말이 안 통하네 진짜', "you're
    useless"): not handed over at once; a second such turn is offered a person (host/providers/offline.py)."""
    return bool(_FRUSTRATED.search(text or ""))
