"""Reading a customer's reply to a confirmation prompt: ``confirm``, ``deny``, ``correct`` or ``unclear``.

Only ``confirm`` lets a ``confirm``-policy tool run, so the reading is built to never say yes by
accident. A reply is ``confirm`` only when it carries an affirmative ('네', '맞아요', '진행해 주세요',
'yes', 'go ahead') and *nothing else*: no question (a '?', a question word such as 어떻게 / 어디 / 왜 /
뭐 / 언제 / 얼마, an interrogative ending such as -나요 / -까요 / -는지), no hesitation (잠깐, 글쎄,
생각해, 나중에, 모르겠-), no condition (-면, 'if'), no contrast (근데, 'but'), no negation (안, 못,
-지 않-, -지 마-, 말고, 아니, 없-, 취소) and no word outside a small vocabulary of agreement
('예전에 환불 받았었는데요' carries 예전, 받- and is ``unclear``, not a '예'). Korean is read with
kiwi's morphological analysis, so endings and whole words are seen as such without punctuation or
with spacing errors ('네진행해주세요', ASR output); English with whole-word rules.

A negation without a question is ``deny`` ('네 근데 환불은 하지 마세요'); a number other than the one
asked about is ``correct`` with that value ('아니요, 8842번이에요'); everything else is ``unclear``.

Kiwi loads once per process (a few seconds): call :func:`warm` when a session starts so the first
confirmation does not wait. Without kiwipiepy the reading falls back to whole-reply patterns that
accept only the plainest yes.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

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


def load() -> None:
    """Load kiwi now (blocking; run it in a worker thread)."""
    _load()


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


# --- Korean -----------------------------------------------------------------------------------------

_KO_AFFIRM_IC = _set("네 넵 넹 녜 예 옙 응 엉 웅 네네 예예 응응 네에 예에 넵넵 그래 그럼 오케이 콜 그럼요")
_KO_FILLER_IC = _set("어 음 아 저 그 에 흠 엄 으 어어 음음 아아 저기 저기요")
_KO_NEG_IC = _set("아니 아니요 아니오 아뇨 아녜요 노")
# content morphemes that agree, ask for the action, or name it (anything else makes a reply unclear)
_KO_ALLOWED = _set(
    "맞 좋 그렇 하 주 해주 진행 부탁 드리 확인 신청 요청 조회 환불 접수 처리 알 되 그거 그것 그걸 "
    "그대로 이대로 바로 지금 좀 꼭 당연 물론 번호 주문 주문번호 감사 고맙 고마워 그 이 번 거 것 "
    "오케이 콜 예 네 응 빨리 얼른 그래 시키 대로 걸"
)
_KO_AFFIRM_WORDS = _set("맞 좋 그렇 진행 부탁 당연 물론 알 오케이 콜 그래")
_KO_QUESTION_WORDS = _set("어디 뭐 무엇 무어 뭘 뭔 언제 누구 얼마 몇 어느 무슨 어떤 어떻 왜 웬 어째")
_KO_QUESTION_EF = _set(
    "나요 나 냐 니 니까 습니까 ㅂ니까 읍니까 까 까요 ㄹ까 ㄹ까요 을까 을까요 가 가요 ㄴ가 ㄴ가요 "
    "은가 은가요 는가 는가요 던가 던가요 대요 래요 는대요 ㄴ대요 남 려나 지 "
    "나요 니 냐고 냐고요 는지요 ㄴ지요"
)
_KO_QUESTION_EC = _set("는지 ㄴ지 은지 을지 ㄹ지 던지 는가 ㄴ가 나 니 냐")
_KO_CONDITION_EC = _set("면 으면 다면 라면 이면 거든 거든요 어야 아야 어도 아도")
_KO_BACKGROUND_EC = _set("는데 ㄴ데 은데 던데 는데요 ㄴ데요 은데요 지만 더니 다가")
_KO_CONTRAST = _set("근데 그런데 그러나 하지만 그래도 그래서 그리고 그러니까 그럼 대신 차라리 아직")
_KO_HESITATION = _set("잠깐 잠시 글쎄 혹시 아마 일단 생각 나중 고민 상의 모르 기다리 다음 나중에 글쎄요")
_KO_NEGATION = _set("안 못 않 말 아니 없 싫 취소 그만 그만두 멈추 필요없 괜히")
# kiwi writes endings with final-consonant jamo ('ᆯ까요'); the lists above use compatibility jamo
_JAMO = str.maketrans({"\u11a8": "ㄱ", "\u11ab": "ㄴ", "\u11af": "ㄹ", "\u11b7": "ㅁ", "\u11b8": "ㅂ", "\u11ba": "ㅅ"})
_FUNCTION_TAG = re.compile(r"^(J|E|XS|XP|VCP|SF|SP|SS|SE|SO|SW|SB|W_|Z)")
_CONTENT_TAGS = ("NN", "NP", "NR", "VV", "VA", "VX", "VCN", "MAG", "MAJ", "MM", "XR", "SL", "SH", "IC", "UN")

# whole-reply patterns for the no-kiwi fallback (and a few set phrases kiwi splits oddly)
_KO_PLAIN_YES = re.compile(
    r"^(?:(?:어|음|아)\s*)*(?:네|넵|예|응)(?:\s*(?:네|예|응))*\s*(?:,\s*)?"
    r"(?:맞아요|맞습니다|진행해\s*주세요|부탁(?:드립니다|드려요|합니다)|해\s*주세요)?\s*[.!]*$"
)
_KO_SET_YES = re.compile(r"^(?:네\s*)?(?:그럼요|물론이죠|물론입니다|당연하죠|당연합니다)[.!]*$")


def _read_korean(text: str, expected: str | None) -> Reading:
    kiwi = _load()
    compact = text.strip()
    if kiwi is None:
        return _fallback_korean(compact)
    if _KO_SET_YES.match(compact):
        return Reading(ReplyLabel.CONFIRM, cues=("affirm",))
    cues: set[str] = set()
    if "?" in compact or "？" in compact:
        cues.add("question")
    forms = [(t.form.translate(_JAMO), t.tag) for t in kiwi.tokenize(compact)]
    for index, (form, tag) in enumerate(forms):
        base_tag = tag.split("-")[0]
        if tag == "SN":
            continue  # numbers are judged below
        if tag == "EF":
            if form in _KO_QUESTION_EF:
                cues.add("question")
            continue
        if tag == "EC":
            if form in _KO_QUESTION_EC:
                cues.add("question")
            elif form in _KO_CONDITION_EC and not (form in ("면", "으면") and _request_condition(forms, index)):
                cues.add("condition")
            elif form in _KO_BACKGROUND_EC:
                cues.add("contrast")
            continue
        if tag == "EP" and form in ("었", "았", "였") and _past_refusal(forms, index):
            cues.add("done")  # '됐어요': 'no thanks' or 'it is done', never a yes
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
        if form in _KO_AFFIRM_IC and base_tag in ("IC", "NNG", "NNP", "MAG", "UN"):
            cues.add("affirm")  # kiwi reads some yes-words ('넵', '넹') as nouns
            continue
        if tag == "IC":
            if form in _KO_AFFIRM_IC:
                cues.add("affirm")
            elif form not in _KO_FILLER_IC:
                cues.add("other")
            continue
        if base_tag.startswith(_CONTENT_TAGS):
            if form in _KO_AFFIRM_WORDS or (form == "주" and tag == "VX"):
                cues.add("affirm")
            elif form not in _KO_ALLOWED:
                cues.add("other")
    return _decide(compact, cues, expected)


def _request_condition(forms: list[tuple[str, str]], index: int) -> bool:
    """'해 주시면 돼요' / '그렇게 하시면 됩니다': a polite request, not a condition."""
    before = [f for f, t in forms[max(0, index - 3) : index] if not t.startswith("EP")]
    after = forms[index + 1 : index + 3]
    asks = bool(before) and before[-1] in ("주", "하")
    settles = len(after) == 2 and after[0][0] == "되" and after[1][1] == "EF" and after[1][0] not in _KO_QUESTION_EF
    return asks and settles and index + 3 >= len(forms) - 1


def _past_refusal(forms: list[tuple[str, str]], index: int) -> bool:
    """'됐어요' after a refusal-shaped reply means 'no thanks', not 'done'."""
    return index > 0 and forms[index - 1][0] == "되" and not any(f == "주" for f, _ in forms[:index])


def _fallback_korean(text: str) -> Reading:
    if re.search(r"아니|아뇨|하지\s*마|취소|싫|안\s*(?:돼|해|할)", text):
        return Reading(ReplyLabel.DENY, cues=("negation",))
    if _KO_PLAIN_YES.match(text) or _KO_SET_YES.match(text):
        return Reading(ReplyLabel.CONFIRM, cues=("affirm",))
    return Reading(ReplyLabel.UNCLEAR, cues=("fallback",))


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
    "please go ahead do it that that's thats is the a an refund order number look up with for my thanks thank "
    "you this one request requested uh um er oh well good sounds of course it's its with that one fine right "
    "sure thing please i'd like like would"
)
_EN_FILLER = _set("uh um er erm oh well mm hmm")
_EN_QUESTION_WORDS = _set("what what's whats how why where when which who whom whose huh pardon sorry")
_EN_AUX = _set("can could would will is are does did should shall may am do")
_EN_SUBJECTS = _set("i you we they he she it there this that")
_EN_NEGATION = _set("no not don't dont never nope nah cancel stop won't wont didn't didnt doesn't n't")
_EN_HESITATION = _set("wait hold hang maybe later think thinking guess perhaps decide check first yet moment")
_EN_CONDITION = _set("if unless only when")
_EN_CONTRAST = _set("but though however instead although")
_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\?")


def _read_english(text: str, expected: str | None) -> Reading:
    lowered = text.lower().replace("’", "'")
    lowered = re.sub(r"\b(?:uh[- ]huh|mm[- ]hmm)\b", "yes", lowered)
    words = _EN_TOKEN.findall(lowered)
    cues: set[str] = set()
    if "?" in words:
        cues.add("question")
    words = [w for w in words if w != "?"]
    if words and words[0] in _EN_AUX and len(words) > 1:
        subjects = {"i", "you", "we", "they"} if words[0] == "do" else _EN_SUBJECTS
        if words[1] in subjects:
            cues.add("question")
    if "not" in words and "sure" in words:
        cues.add("hesitation")
    if ("never", "mind") in itertools.pairwise(words):
        cues.add("negation")
    for pair in _EN_AFFIRM_PHRASES:
        if pair in itertools.pairwise(words):
            cues.add("affirm")
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
        elif word in _EN_AFFIRM:
            cues.add("affirm")
        elif word not in _EN_ALLOWED and word not in _EN_FILLER:
            cues.add("other")
    return _decide(text, cues, expected)


# --- the decision -----------------------------------------------------------------------------------

_BLOCKING = ("question", "hesitation", "condition", "instead")


def _decide(text: str, cues: set[str], expected: str | None) -> Reading:
    orders, amounts = _numbers(text)
    if amounts:
        cues.add("other")
    changed = [n for n in orders if expected is None or n != _digits(expected)]
    if orders and expected is None:
        cues.add("other")
    elif changed:
        cues.add("value")
    ordered = tuple(sorted(cues))
    if any(c in cues for c in _BLOCKING):
        return Reading(ReplyLabel.UNCLEAR, cues=ordered)
    if "value" in cues:
        return Reading(ReplyLabel.CORRECT, value=changed[-1], cues=ordered)
    if "negation" in cues:
        return Reading(ReplyLabel.DENY, cues=ordered)
    if "affirm" in cues and not ({"other", "contrast", "done"} & cues):
        return Reading(ReplyLabel.CONFIRM, cues=ordered)
    return Reading(ReplyLabel.UNCLEAR, cues=ordered)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


DATA_DIR = Path(__file__).parent / "data"
SPLITS = ("dev", "holdout")


@dataclass(frozen=True, slots=True)
class LabelledReply:
    """One reply of the labelled set in ``host/data/confirm_replies_<split>.tsv``."""

    label: ReplyLabel
    value: str | None
    text: str
    split: str

    @property
    def language(self) -> str:
        return "ko" if _HANGUL.search(self.text) else "en"


def labelled_replies(*splits: str) -> list[LabelledReply]:
    """The labelled replies (both halves unless ``splits`` names some); the prompt asked about 8841."""
    rows = []
    for split in splits or SPLITS:
        for line in (DATA_DIR / f"confirm_replies_{split}.tsv").read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            label, value, text = line.split("\t")
            rows.append(LabelledReply(ReplyLabel(label), None if value == "-" else value, text, split))
    return rows


#: the order number the labelled replies answer about
LABELLED_EXPECTED = "8841"


def read_reply(text: str, *, expected: str | None = None) -> Reading:
    """How ``text`` answers a confirmation prompt about ``expected`` (the order number asked about, if any)."""
    text = (text or "").strip()
    if not text:
        return Reading(ReplyLabel.UNCLEAR, cues=("empty",))
    if _HANGUL.search(text):
        return _read_korean(text, expected)
    return _read_english(text, expected)
