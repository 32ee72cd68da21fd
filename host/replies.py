"""Reading a customer's reply to a confirmation prompt: ``confirm``, ``deny``, ``correct`` or ``unclear``.

Only ``confirm`` lets a ``confirm``-policy tool run, so the reading is built to never say yes by
accident. A reply is ``confirm`` only when it carries an affirmative ('네', '맞아요', '진행해 주세요',
'yes', 'go ahead') and *nothing else*: every other thing the reading notices is a cue of its own, and
any cue besides ``affirm`` keeps the reply from being a yes. The cues:

- a question: a '?' (question marks of any script are read as '?': ？ ‽ ⁇ ؟ ⸮ ¿ ❓), a question word
  (어떻게 / 어디 / 왜 / 뭐 / 언제 / 얼마), an interrogative ending (-나요 / -까요 / -는지);
- hesitation (잠깐, 글쎄, 생각해, 나중에, 모르겠-), a condition (-면, 'if', 'only'), a contrast
  (근데, 'but'), a negation (안, 못, -지 않-, -지 마-, 말고, 아니, 없-, 취소);
- a word outside a small vocabulary of agreement ('예전에 환불 받았었는데요' carries 예전, 받- and is
  ``unclear``, not a '예');
- a *different action* than the one asked: checking or looking up (조회, 확인, 'look it up', 'check':
  '네 확인해 주세요' asks for a check, not for the refund; these agree only when the caller says the
  call asked about is a read, ``read_only=True``, so '네 조회해 주세요' confirms a lookup), knowing (알-
  except the set phrase 알겠어요 / 알겠습니다 'understood, go on': '네 알아요', '알아서 할게요', 'ok I
  know' are not a yes), a state of the action (환불되- / 처리되- / 접수되-: '환불된 거 맞죠' asks what
  happened), the past tense ('신청했어요' tells what was done, not what to do);
- a particle that singles out a part: 만 'only' ('조회만 해 주세요'), 은/는, 도, 까지, 이나
  ('번호는 맞아요' leaves the rest open);
- hedges and sarcasm: a guess (-ㄹ 거예요, -ㄹ걸요), 'I see' (-군요, -구나, '아 그래요'), 'whatever'
  (-든지, -든가), '네 퍽이나요', '어련하시겠어요' (words outside the vocabulary), 'yeah right';
- a tag question or an unfinished sentence: the endings -죠 / -지요 ('맞죠' seeks agreement; kept
  for 물론이죠 / 당연하죠, 'of course', which read the same with any intonation), -고(요) / -구요 /
  -라고 at the end ('확인 좀 하고요', 'I will check first'; mid-reply '맞구요 진행해 주세요' is fine),
  reported speech ('하라는 거죠');
- a sign: whatever is not a Hangul syllable, a Latin letter, a digit, a space or . , ! ? ~ ' " -
  (jamo such as ㅠㅠ ㅋㅋ, emoji, emoticons such as -_- ^^ :), other symbols and scripts). A sign
  is never read past: the negation signs ㄴ / ㄴㄴ (no no), ㅅㄹ (싫어), ㅇㄴ (아니), 🙅 👎 ❌ ✖ ❎ ✗ ✘
  ⛔ 🚫 🛑 ✋ are a negation; the plain agreement signs ㅇㅇ (응응), ㅇㅋ (OK), 👍 👌 🙆 are an
  affirmative and obey 'nothing else' like any '네' ('ㅇㅇ' and '네 👍' are yes, 'ㅇㅇ ㅋㅋ' is not);
  every other sign (crying or hesitant faces, laughter, ^^, ;;, a smile too) makes it ``unclear``.
  Skin tones and variation selectors belong to their emoji, a ZWJ sequence is read by every emoji
  it joins (🙅‍♂️ is 🙅; 👍 + ZWJ + 👎 is a negation).

A negation without a question is ``deny`` ('네 근데 환불은 하지 마세요', '네 ㄴㄴ', 'yes 👎'); a number
other than the one asked about is ``correct`` with that value ('아니요, 8842번이에요'); everything else
is ``unclear`` (asked once more: cheap, where a false yes moves money). Korean is read with kiwi's
morphological analysis, so endings and whole words are seen as such without punctuation or with
spacing errors ('네진행해주세요', ASR output); English with whole-word rules.

Kiwi loads once per process (a few seconds): call :func:`warm` when a session starts so the first
confirmation does not wait. Without kiwipiepy Korean falls back to whole-reply patterns that accept
only the plainest yes, with no sign beside it (a negation sign is still a ``deny``); signs alone
('ㅇㅇ', '👍') and English are read the same way with or without kiwi.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.pii import mask_text
from host.ordernumbers import adds_order, spoken_as_digits
from host.replysigns import normalise, plain, signs
from host.spacing import joined_digits, spaced, unspaced
from registry.instructions import instructs

log = logging.getLogger("switchboard.host.replies")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


class ReplyLabel(StrEnum):
    CONFIRM = "confirm"
    DENY = "deny"
    CORRECT = "correct"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Reading:
    """How a reply reads: the label, the corrected value (``correct``), and the cues seen."""

    label: ReplyLabel
    value: str | None = None
    cues: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label.value, "value": self.value, "cues": list(self.cues)}


# --- kiwi, once per process -----------------------------------------------------------------------

_lock = threading.Lock()
_kiwi: Any = None
_loaded = False


def _load() -> Any:
    global _kiwi, _loaded
    if _loaded:
        return _kiwi
    with _lock:
        if not _loaded:
            try:
                from kiwipiepy import Kiwi

                kiwi = Kiwi(load_multi_dict=False)  # names of several words are not needed here; 3x faster to load
                kiwi.tokenize("네 맞아요")  # the first call builds kiwi's caches
                _kiwi = kiwi
            except Exception as exc:  # the fallback accepts only the plainest yes
                log.warning("kiwipiepy unavailable (%s): confirmations use whole-reply patterns", type(exc).__name__)
                _kiwi = None
            _loaded = True
    return _kiwi


def load() -> Any:
    """Load kiwi now (blocking; run it in a worker thread): the analyser, or None without kiwipiepy."""
    return _load()


def warm() -> None:
    """Load kiwi in a background thread (returns at once)."""
    if not _loaded:
        threading.Thread(target=_load, name="kiwi-warm", daemon=True).start()


# --- shared: numbers ------------------------------------------------------------------------------

# a number followed by a unit is an amount, a date or a count, never an order number
_NUMBER = re.compile(r"(?<![\d,])(\d{3,12})(?![\d,])(?!\s*(?:원|개|일|시|분|초|%|월|년|주|명|won|krw|days?|%))", re.I)
_ANY_NUMBER = re.compile(r"\d[\d,]*")


def _numbers(text: str) -> tuple[list[str], bool]:
    """Order-like numbers in ``text``, and whether any other number (an amount, a date) is there."""
    orders = _NUMBER.findall(text)
    others = len(_ANY_NUMBER.findall(text)) > len(orders)
    return orders, others


# an amount in won ('35,500원', '35500 원'); the prompt's own amount said back is no other number
_WON = re.compile(r"(?<![\d,])(\d{1,3}(?:,\d{3})+|\d+)\s*원(?![가-힣])")


def _without_the_amount(text: str, amount: int | None) -> str:
    """``text`` without the prompt's amount when every amount in it is that one ('네 35,500원 맞아요' →
    '네 맞아요'); a different amount ('35,000원 맞아요') stays, and keeps the reply from being a yes."""
    found = _WON.findall(text)
    if amount is None or not found or any(int(value.replace(",", "")) != amount for value in found):
        return text
    return re.sub(r"\s+", " ", _WON.sub(" ", text)).strip()


# --- shared: what is not a word (signs): host/replysigns.py -------------------------------------


# --- Korean -----------------------------------------------------------------------------------------

_KO_AFFIRM_IC = _set("네 넵 넹 녜 예 옙 응 엉 웅 네네 예예 응응 네에 예에 넵넵 그래 그럼 오케이 콜 그럼요 예스")
_KO_FILLER_IC = _set("어 음 아 저 그 에 흠 엄 으 어어 음음 아아 저기 저기요")
_KO_NEG_IC = _set("아니 아니요 아니오 아뇨 아녜요 노")
# content morphemes that agree, ask for the action, or name it (anything else makes a reply unclear)
_KO_ALLOWED = _set(
    "맞 좋 그렇 하 주 해주 진행 부탁 부탁드리 드리 신청 요청 환불 접수 처리 되 그거 그것 그걸 "
    "그대로 이대로 바로 지금 좀 꼭 당연 물론 번호 주문 주문번호 감사 고맙 고마워 그 이 번 거 것 "
    "오케이 콜 예 네 응 빨리 얼른 그래 시키 대로 걸"
)
_KO_AFFIRM_WORDS = _set("맞 좋 그렇 진행 부탁 부탁드리 당연 물론 오케이 콜 그래")
# a different action than the one asked: a check or a lookup is not a yes to a refund
_KO_CHECK = _set("조회 확인 검색 체크 알아보 살펴보 찾아보")  # agree only when a lookup was asked (read_only)
# the action named as a noun: '환불되-', '처리되-' tell or ask its state ('환불된 거 맞죠')
_KO_ACTION_NOUNS = _set("환불 처리 접수 진행 신청 요청 취소 조회 확인 결제 승인")
_KO_PAST_EP = _set("었 았 였 었었 았었 였었 ㅆ")
# -죠 / -지요 / -잖아요 seek agreement ('맞죠', '해야죠', '하면 되잖아요'), except after 'of course'
# (물론이죠, 당연하죠)
_KO_TAG_EF = ("죠", "지요", "잖아", "잖아요", "잖습니까", "쥬", "죵", "지유")  # 맞쥬, 맞죵: dialect, cute
_KO_TAG_EXEMPT = _set("물론 당연")
# reported speech ('하라는 거죠', '하라고'): what someone said, not a yes
_KO_QUOTE = _set("라는 다는 ㄴ다는 는다는 냐는 자는 라고 다고 ㄴ다고 는다고 냐고 자고")
# endings of a reply that does not settle it: 'I see' (그렇군요, 그렇구나), 'whatever' (하시든지,
# 해 주시든가), 'it is, but' (그렇습니다만)
_KO_REALISE_EF = ("군요", "구나", "군", "구먼")
_KO_INDIFFERENT_E = ("든지", "든가", "던지", "던가", "든지요", "든가요", "던지요", "던가요")
_KO_REALISE_IC = _set("아 오 아하 어머 헐")
# particles that single out one part ('번호는 맞아요', '환불도', '환불까지', '환불이나'): the rest is open
_KO_FOCUS_JX = _set("은 는 ㄴ 도 까지 이나 나 라도 이라도 조차 마저 부터 밖에 뿐")
# English yes-words written inside a Korean reply ('네 ok')
_KO_LATIN_AFFIRM = _set("ok okay yes yep yeah")
# whole words that are only yes-syllables; kiwi misreads some ('넵' as 너 + 의, '네넵')
_KO_YES_WORD = re.compile(r"(?<![가-힣])[네넵넹녜예옙]+(?![가-힣])")
_KO_YES_SPELLING = str.maketrans("넵넹녜옙", "네네네예")
_KO_QUESTION_WORDS = _set("어디 뭐 무엇 무어 뭘 뭔 언제 누구 얼마 몇 어느 무슨 어떤 어떻 왜 웬 어째")
_KO_QUESTION_EF = _set(
    "나요 나 냐 니 니까 습니까 ㅂ니까 읍니까 까 까요 ㄹ까 ㄹ까요 을까 을까요 가 가요 ㄴ가 ㄴ가요 "
    "은가 은가요 는가 는가요 던가 던가요 대요 래요 는대요 ㄴ대요 남 려나 지 "
    "나요 니 냐고 냐고요 는지요 ㄴ지요"
)
_KO_QUESTION_EC = _set("는지 ㄴ지 은지 을지 ㄹ지 던지 는가 ㄴ가 나 니 냐")
_KO_CONDITION_EC = _set("면 으면 다면 라면 이면 거든 거든요 어야 아야 어도 아도")
_KO_BACKGROUND_EC = _set("는데 ㄴ데 은데 던데 는데요 ㄴ데요 은데요 지만 더니 다가")
_KO_THING = frozenset({("거", "NNB"), ("것", "NNB"), ("건", "NNB"), ("게", "NNB")})
_KO_CONTRAST = _set("근데 그런데 그러나 하지만 그래도 그래서 그리고 그러니까 그럼 대신 차라리 아직")
_KO_HESITATION = _set("잠깐 잠시 글쎄 혹시 아마 일단 생각 나중 고민 상의 모르 기다리 다음 나중에 글쎄요")
_KO_NEGATION = _set("안 못 않 말 아니 없 싫 취소 그만 그만두 멈추 필요없 괜히")
# kiwi writes endings with final-consonant jamo ('ᆯ까요'); the lists above use compatibility jamo
_JAMO = str.maketrans({"\u11a8": "ㄱ", "\u11ab": "ㄴ", "\u11af": "ㄹ", "\u11b7": "ㅁ", "\u11b8": "ㅂ", "\u11ba": "ㅅ"})
_FUNCTION_TAG = re.compile(r"^(J|E|XS|XP|VCP|Z)")
_CONTENT_TAGS = ("NN", "NP", "NR", "VV", "VA", "VX", "VCN", "MAG", "MAJ", "MM", "XR", "SL", "SH", "IC", "UN")

# whole-reply patterns for the no-kiwi fallback (and a few set phrases kiwi splits oddly)
_KO_PLAIN_YES = re.compile(
    r"^(?:(?:어|음|아)\s*)*(?:네|넵|예|응)(?:\s*(?:네|예|응))*\s*(?:,\s*)?"
    r"(?:맞아요|맞습니다|진행해\s*주세요|부탁(?:드립니다|드려요|합니다)|해\s*주세요)?\s*[.!]*$"
)
_KO_SET_YES = re.compile(r"^(?:네\s*)?(?:그럼요|물론이죠|물론입니다|당연하죠|당연합니다)[.!]*$")
# 'no reason not to' ('안 할 이유가 없죠', '하지 않을 이유가 없네요'): a yes by double negation, said
# without a '?' ('안 할 이유가 없죠?' asks; '할 이유가 없죠' is a no)
_KO_NO_REASON_NOT = re.compile(
    r"^(?:(?:네|예|뭐|그럼)\s*)*(?:(?:환불|진행|신청)\s*(?:을|를)?\s*)?"
    r"(?:안\s*(?:할|하실|받을)|하지\s*않을|마다할)\s*이유(?:가|는)?\s*(?:전혀\s*|하나도\s*)?"
    r"없(?:죠|지요|네요|습니다|어요|지|다|네)[.!~]*$"
)


# English words in a Korean reply read as their Korean ("네 refund 해주세요 please": a walk's
# code-switched yes was asked again); anything else in Latin letters stays 'other'
_KO_SWITCHED_WORDS = {"refund": "환불", "please": "부탁해요"}
_KO_SWITCHED = re.compile(r"(?<![A-Za-z])(?:refund|please)(?![A-Za-z])", re.IGNORECASE)


def _squashed(yes: str) -> str:
    """'네네네네네' as '네네' (a fifth walk: kiwi reads four or more as 너+의 …, and '예예예예' as one
    unknown word, so an eager yes was asked again); one syllable repeated, nothing else changed."""
    return yes[:2] if len(yes) > 3 and len(set(yes)) == 1 else yes


def _read_korean(text: str, expected: str | None, signs: set[str], read_only: bool) -> Reading:
    kiwi = _load()
    compact = _KO_YES_WORD.sub(lambda m: _squashed(m.group().translate(_KO_YES_SPELLING)), text.strip())
    compact = _KO_SWITCHED.sub(lambda m: _KO_SWITCHED_WORDS[m.group().lower()], compact)
    if kiwi is None:
        return _fallback_korean(compact, signs)
    if not signs and (_KO_SET_YES.match(compact) or _KO_NO_REASON_NOT.match(compact)):
        return Reading(ReplyLabel.CONFIRM, cues=("affirm",))
    cues = set(signs)
    if "?" in compact:
        cues.add("question")
    forms = [(t.form.translate(_JAMO), t.tag) for t in kiwi.tokenize(compact)]
    for index, (form, tag) in enumerate(forms):
        base_tag = tag.split("-")[0]
        if tag == "SN":
            continue  # numbers are judged below
        if tag.startswith(("S", "W_")) and tag not in ("SL", "SH"):
            if not all(plain(char) for char in form):
                cues.add("sign")  # punctuation; :func:`host.replysigns.signs` took every sign out already
            continue
        if tag == "EF":
            if form in _KO_QUESTION_EF:
                cues.add("question")
            elif form.endswith(_KO_TAG_EF) and not _of_course(forms, index):
                cues.add("tag")  # '맞죠', '하라는 거죠': asks for agreement
            elif form.endswith(_KO_REALISE_EF):
                cues.add("realise")  # '그렇군요': 'I see', not 'do it'
            elif form in _KO_BACKGROUND_EC or form.endswith("만"):
                cues.add("contrast")  # '맞는데요', '그렇습니다만'
            elif form in _KO_INDIFFERENT_E:
                cues.add("indifferent")
            elif form.endswith(("걸", "걸요")):
                cues.add("guess")  # '맞을걸요': probably
            continue
        if tag == "EC":
            if form in _KO_QUESTION_EC:
                cues.add("question")
            elif form in _KO_CONDITION_EC and not (form in ("면", "으면") and _request_condition(forms, index)):
                cues.add("condition")
            elif form in _KO_BACKGROUND_EC or form.endswith("만"):
                cues.add("contrast")
            elif form in _KO_INDIFFERENT_E:
                cues.add("indifferent")  # '하시든지': 'do it or not, whatever'
            if form in _KO_QUOTE:
                cues.add("quote")
            continue
        if tag == "ETM" and form in _KO_QUOTE:
            cues.add("quote")
            continue
        if tag == "ETM" and form in ("ㄹ", "을"):
            cues.add("guess")  # '맞을 거예요' (probably), '좋을 대로 하세요' (as you like)
            continue
        if tag == "ETM" and index + 1 < len(forms) and forms[index + 1] in _KO_THING:
            # '환불 해 주는 거예요', '진행하는 거 맞아요': what is being done, said back to check it
            # (a question once ASR drops the '?'), never a request to do it (a walk: refunded)
            cues.add("tag")
            continue
        if tag == "EP" and form in _KO_PAST_EP:
            # '됐어요': 'no thanks' or 'it is done'; '신청했어요': what was done, not what to do
            cues.add("done" if _past_refusal(forms, index) else "past")
            continue
        if tag == "JX" and form == "만":
            cues.add("only")  # '조회만 해 주세요'
            continue
        if tag == "JX" and form in _KO_FOCUS_JX:
            cues.add("focus")  # '번호는 맞아요', '맞긴 맞아요': one part singled out, the rest left open
            continue
        if form == "되" and _names_state(forms, index):
            cues.add("state")  # '환불된 거', '접수 됐죠': the action's state, not a request for it
            continue
        if form == "말" and tag.startswith("VV") and index + 1 < len(forms) and forms[index + 1][0] == "고":
            cues.add("instead")  # '환불 말고 교환이요': a request for something else
            continue
        if form == "말" and not tag.startswith("VX"):
            cues.add("other")  # 말 (speech): '다시 말해 주세요'
            continue
        if _FUNCTION_TAG.match(tag):
            continue
        if form in _KO_QUESTION_WORDS and base_tag in ("NP", "MAG", "MM", "VA", "NR", "NNG", "XR", "IC"):
            cues.add("question")
            continue
        if form in _KO_NEGATION or tag == "VCN" or (tag == "IC" and form in _KO_NEG_IC):
            cues.add("negation")
            continue
        if form in _KO_HESITATION:
            cues.add("hesitation")
            continue
        if tag == "MAJ" and form in _KO_CONTRAST:
            cues.add("contrast")
            continue
        if form in _KO_CHECK:
            if not read_only:
                cues.add("check")  # '네 확인해 주세요': a check, not the action asked
            continue
        if form == "알" and base_tag == "VV":
            # only 알겠어요 / 알겠습니다 accepts ('understood'); '알아요', '알아서', '알았어요' do not
            following = forms[index + 1] if index + 1 < len(forms) else ("", "")
            cues.add("affirm" if following == ("겠", "EP") else "know")
            continue
        if form in _KO_AFFIRM_IC and base_tag in ("IC", "NNG", "NNP", "MAG", "UN"):
            cues.add("affirm")  # kiwi reads some yes-words ('넵', '넹') as nouns
            continue
        if tag == "IC" and form in _KO_REALISE_IC and _realises(forms, index):
            cues.add("realise")  # '아 그래요': 'oh, is that so', not 'do it'
            continue
        if tag == "IC":
            if form in _KO_AFFIRM_IC:
                cues.add("affirm")
            elif form not in _KO_FILLER_IC:
                cues.add("other")
            continue
        if tag == "SL":
            cues.add("affirm" if form.lower() in _KO_LATIN_AFFIRM else "other")
            continue
        if base_tag.startswith(_CONTENT_TAGS):
            if form in _KO_AFFIRM_WORDS or (form == "주" and tag == "VX"):
                cues.add("affirm")
            elif form not in _KO_ALLOWED:
                cues.add("other")
    if _trails_off(forms):
        cues.add("trail")  # '확인 좀 하고요': 'I will do this first', an unfinished sentence
    return _decide(compact, cues, expected)


def _request_condition(forms: list[tuple[str, str]], index: int) -> bool:
    """'해 주시면 돼요' / '그렇게 하시면 됩니다' / '해 주시면 감사하겠습니다': a polite request, not a condition."""
    before = [f for f, t in forms[max(0, index - 3) : index] if not t.startswith("EP")]
    if not (before and before[-1] in ("주", "하")):
        return False
    after = forms[index + 1 :]
    if after and after[-1][1] == "SF":
        after = after[:-1]
    if not after or after[-1][1] != "EF" or after[-1][0] in _KO_QUESTION_EF or after[-1][0].endswith(_KO_TAG_EF):
        return False
    middle = after[:-1]
    if [f for f, _ in middle] == ["되"]:
        return True
    thanks = [(f, t) for f, t in middle if t != "EP" or f == "겠"]
    return thanks in ([("감사", "NNG"), ("하", "XSA"), ("겠", "EP")], [("고맙", "VA-I"), ("겠", "EP")])


def _past_refusal(forms: list[tuple[str, str]], index: int) -> bool:
    """'됐어요' after a refusal-shaped reply means 'no thanks', not 'done'."""
    return index > 0 and forms[index - 1][0] == "되" and not any(f == "주" for f, _ in forms[:index])


def _of_course(forms: list[tuple[str, str]], index: int) -> bool:
    """'물론이죠' / '당연하죠': -죠 after 'of course' is the set phrase, not a tag question."""
    before = [f for f, t in forms[:index] if not t.startswith(("VCP", "XS", "EP"))]
    return bool(before) and before[-1] in _KO_TAG_EXEMPT


def _realises(forms: list[tuple[str, str]], index: int) -> bool:
    """'아' / '오' right before 그래 / 그렇-: 'oh, is that so' ('어 그래' stays 'yeah, OK')."""
    return index + 1 < len(forms) and forms[index + 1][0] in ("그래", "그렇", "그러")


def _names_state(forms: list[tuple[str, str]], index: int) -> bool:
    """되- right after an action noun ('환불되-', '접수 됐-'), not the 되- of '해 주시면 돼요'."""
    return index > 0 and forms[index - 1][1].startswith("NN") and forms[index - 1][0] in _KO_ACTION_NOUNS


def _trails_off(forms: list[tuple[str, str]]) -> bool:
    """The reply ends on -고(요) / -구요 / -라고 ('확인 좀 하고요'), after its last word."""
    for form, tag in reversed(forms):
        if (tag.startswith(("S", "Z")) and tag not in ("SL", "SH", "SN")) or (form == "요" and tag in ("JX", "MM")):
            continue
        return tag in ("EC", "EF") and form.endswith(("고", "고요", "구요", "구"))
    return False


def _fallback_korean(text: str, signs: set[str]) -> Reading:
    if "negation" in signs or re.search(r"아니|아뇨|하지\s*마|취소|싫|안\s*(?:돼|해|할)", text):
        return Reading(ReplyLabel.DENY, cues=tuple(sorted({"negation", *signs})))
    if not signs and (_KO_PLAIN_YES.match(text) or _KO_SET_YES.match(text)):
        return Reading(ReplyLabel.CONFIRM, cues=("affirm",))
    return Reading(ReplyLabel.UNCLEAR, cues=tuple(sorted({"fallback", *signs})))


# --- English ----------------------------------------------------------------------------------------

_EN_AFFIRM = _set(
    "yes yeah yep yup ya yea sure ok okay k correct right proceed confirm confirmed absolutely definitely "
    "affirmative alright"
)
_EN_AFFIRM_PHRASES = (
    ("go", "ahead"),
    ("please", "do"),
    ("do", "it"),
    ("of", "course"),
    ("sounds", "good"),
    ("that's", "it"),
)
_EN_ALLOWED = _set(
    "please go ahead do it that that's thats is the a an refund order number with for my thanks thank "
    "you this one request requested uh um er oh well good sounds of course it's its with that one fine right "
    "sure thing please i'd like like would"
)
_EN_FILLER = _set("uh um er erm oh well mm hmm")
_EN_QUESTION_WORDS = _set("what what's whats how why where when which who whom whose huh pardon sorry")
_EN_AUX = _set("can could would will is are does did should shall may am do")
_EN_OBJECT_LEADS = _set("the my your order number address name")
_EN_SUBJECTS = _set("i you we they he she it there this that")
_EN_NEGATION = _set("no not don't dont never nope nah cancel stop won't wont didn't didnt doesn't n't")
_EN_HESITATION = _set("wait hold hang maybe later think thinking guess perhaps decide check first yet moment")
_EN_CONDITION = _set("if unless only when")
_EN_CONTRAST = _set("but though however instead although")
# a different action than the one asked (a lookup: agrees only when one was asked, read_only), knowing
_EN_CHECK = _set("look looked lookup up status verify checked")
_EN_KNOW = _set("know knew known")
# sarcasm: 'yeah right' means 'no way' ('yeah that's right' and 'yes right' do not)
_EN_SARCASM = frozenset({("yeah", "right"), ("yea", "right")})
_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\?")


def _read_english(text: str, expected: str | None, signs: set[str], read_only: bool) -> Reading:
    lowered = text.lower()
    lowered = re.sub(r"\b(?:uh[- ]huh|mm[- ]hmm)\b", "yes", lowered)
    words = _EN_TOKEN.findall(lowered)
    cues = set(signs)
    if "?" in words:
        cues.add("question")
    words = [w for w in words if w != "?"]
    for index, word in enumerate(words[:-1]):
        # 'is that right', and after a yes-word too: 'ok is it the right order', 'yes is that my
        # order' (a walk: refunded). Mid-sentence ('yes that is it') it is no question.
        if word in _EN_AUX and all(w in _EN_AFFIRM or w in _EN_FILLER for w in words[:index]):
            subjects = {"i", "you", "we", "they"} if word == "do" else _EN_SUBJECTS
            if words[index + 1] in subjects:
                cues.add("question")
    for word, following in itertools.pairwise(words):
        if word in ("correct", "confirm") and following in _EN_OBJECT_LEADS:
            cues.add("check")  # the verb: 'correct the order number', 'confirm my address' (not a yes)
    if "not" in words and "sure" in words:
        cues.add("hesitation")
    if ("never", "mind") in itertools.pairwise(words):
        cues.add("negation")
    pairs = set(itertools.pairwise(words))
    for pair in _EN_AFFIRM_PHRASES:
        if pair in pairs:
            cues.add("affirm")
    if pairs & _EN_SARCASM:
        cues.add("sarcasm")
    for word in words:
        if word in _EN_QUESTION_WORDS:
            cues.add("question")
        elif word in _EN_NEGATION or word.endswith("n't"):
            cues.add("negation")
        elif word in _EN_HESITATION:
            cues.add("hesitation")
        elif word in _EN_CONDITION:
            cues.add("condition")
        elif word in _EN_CONTRAST:
            cues.add("contrast")
        elif word in _EN_CHECK:
            if not read_only:
                cues.add("check")
        elif word in _EN_KNOW:
            cues.add("know")
        elif word in _EN_AFFIRM:
            cues.add("affirm")
        elif word not in _EN_ALLOWED and word not in _EN_FILLER:
            cues.add("other")
    return _decide(text, cues, expected)


# --- the decision -----------------------------------------------------------------------------------

_BLOCKING = ("question", "hesitation", "condition", "instead", "more_orders")


def _decide(text: str, cues: set[str], expected: str | None) -> Reading:
    orders, amounts = _numbers(text)
    if amounts:
        cues.add("other")
    changed = [n for n in orders if expected is None or n != _digits(expected)]
    if orders and expected is None:
        cues.add("other")
    elif changed:
        cues.add("value")
        if adds_order(text):
            cues.add("more_orders")  # '네 8834도 같이요': the asked order and another, not a correction
    ordered = tuple(sorted(cues))
    if any(c in cues for c in _BLOCKING):
        return Reading(ReplyLabel.UNCLEAR, cues=ordered)
    if "value" in cues:
        return Reading(ReplyLabel.CORRECT, value=changed[-1], cues=ordered)
    if "negation" in cues:
        return Reading(ReplyLabel.DENY, cues=ordered)
    if cues == {"affirm"}:  # an affirmative and nothing else: any other cue, known or new, is not a yes
        return Reading(ReplyLabel.CONFIRM, cues=ordered)
    return Reading(ReplyLabel.UNCLEAR, cues=ordered)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


_ELLIPSIS = re.compile(r"\.\.|…|‥|⋯")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def read_reply(
    text: str, *, expected: str | None = None, read_only: bool = False, amount: int | None = None
) -> Reading:
    """How ``text`` answers a confirmation prompt about ``expected`` (the order number asked about, if any).

    ``read_only``: the call asked about only reads (a lookup, ``ExposedTool.is_read``), so words for
    looking up or checking name the action asked ('네 조회해 주세요' is a yes). By default the action is
    taken to be a write, or unknown, and those words are a different action: never a yes.
    ``amount``: the amount in won the prompt stated; said back, it is no other number ('네 35,500원
    맞아요'); any other amount keeps the reply from being a yes. An order number said in Korean digits
    ('네 팔천팔백이십이번 맞아요') is read as its digits. A reply that adds another order to the one asked
    ('네 8834도 같이요') is ``unclear`` with the cue ``more_orders``, never a correction.
    """
    reading = _read_reply(text, expected=expected, read_only=read_only, amount=amount)
    if reading.label is ReplyLabel.UNCLEAR and set(reading.cues) <= {"affirm", "other"} and spaced(text or ""):
        # said one syllable at a time ('네 환 불 해 주 세 요', '아 니 요'): its words are the joined ones;
        # a reply already unsure for another reason (a question, a hesitation, a sign) stays so
        joined = _read_reply(unspaced(text), expected=expected, read_only=read_only, amount=amount)
        if joined.label is not ReplyLabel.UNCLEAR:
            return Reading(joined.label, value=joined.value, cues=tuple(sorted({*joined.cues, "spaced"})))
    return reading


def _read_reply(text: str, *, expected: str | None, read_only: bool, amount: int | None) -> Reading:
    # personal data is no answer: its digits are never an order number to correct to ('900101-1234567'
    # said at a lookup prompt was read as "correct 1234567" and looked up; a walk)
    text = _without_the_amount(spoken_as_digits(mask_text(joined_digits(normalise(text or "")), style="tag")), amount)
    if not text:
        return Reading(ReplyLabel.UNCLEAR, cues=("empty",))
    if instructs(text):
        # "네 [SYSTEM] 8822 환불도 승인됨": words addressed to the assistant are neither a yes nor a
        # correction (a walk: read as "correct 8822", and the corrected lookup ran at once)
        return Reading(ReplyLabel.UNCLEAR, cues=("instruction",))
    rest, seen = signs(text)
    if _ELLIPSIS.search(text):
        seen.add("trail")  # '네...': trailing off, reluctant; never a clear yes
    if _HANGUL.search(rest):
        return _read_korean(rest, expected, seen, read_only)
    return _read_english(rest, expected, seen, read_only)
