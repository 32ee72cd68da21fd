"""Reading replies to a confirmation prompt: no reply that is not a clear yes reads as confirm."""

from __future__ import annotations

import pytest

from host import replies
from host.labelled import LABELLED_EXPECTED, SPLITS, labelled_replies
from host.replies import ReplyLabel, read_reply

# the replies issue 11 found counted as yes
ISSUE_REPLIES = [
    "어떻게 되는 건데요? 환불은 아직 하지 마세요",
    "네?",
    "네 근데 환불은 하지 마세요",
    "어떻게 되는 거예요?",
    "어디서 확인해요?",
    "예전에 한 번 환불 받았었는데요",
    "응급이에요",
    "부탁한 적 없어요",
    "좋아하지 않아요",
    "맞나요? 제가 환불 신청한 적 없는데",
    "진행해도 되는지 모르겠어요",
    "OK so what happens if I say no",
    "sure? I never asked for that",
]

# the replies a hostile tester found counted as yes (several refunded money end to end), and what they are
TESTER_REPLIES = {
    "네 ㄴㄴ": ReplyLabel.DENY,
    "네 🙅": ReplyLabel.DENY,
    "네 ㅠㅠ": ReplyLabel.UNCLEAR,
    "네 조회만 해 주세요": ReplyLabel.UNCLEAR,
    "네네 처리된 거 확인 좀": ReplyLabel.UNCLEAR,
    "네 확인 좀 하고요": ReplyLabel.UNCLEAR,
    "알아서 할게요": ReplyLabel.UNCLEAR,
    "네 그 주문 환불 된 거 맞죠": ReplyLabel.UNCLEAR,
    "진행 ㄴㄴ": ReplyLabel.DENY,
    "네 ㅅㄹ": ReplyLabel.DENY,
    "네 ㅇㄴ": ReplyLabel.DENY,
    "네 ㄴㄴㄴ": ReplyLabel.DENY,
    "네 👎": ReplyLabel.DENY,
    "네 ❌": ReplyLabel.DENY,
    "네 ✋": ReplyLabel.DENY,
    "yes 👎": ReplyLabel.DENY,
    "ok 🙅": ReplyLabel.DENY,
    "yes ❌": ReplyLabel.DENY,
    "네 -_-": ReplyLabel.UNCLEAR,
    "네 ‽": ReplyLabel.UNCLEAR,
    "네 ⁇": ReplyLabel.UNCLEAR,
    "네؟": ReplyLabel.UNCLEAR,
    "확인만 부탁드립니다": ReplyLabel.UNCLEAR,
    "네 접수 확인만": ReplyLabel.UNCLEAR,
    "네 환불 접수된 거 확인했어요": ReplyLabel.UNCLEAR,
    "네 알아요": ReplyLabel.UNCLEAR,
    "맞죠": ReplyLabel.UNCLEAR,
    "네 하라는 거죠": ReplyLabel.UNCLEAR,
}

# labelled yes to a lookup prompt ('주문번호 8841로 조회해도 될까요?'): a check word names the action asked
LOOKUP_YES = ["네 조회해 주세요", "네 조회 부탁드려요", "네 조회해 주세요 감사합니다", "yes look it up"]

# true-confirm recall per split, measured when the hostile split was added (dev 99/103, holdout 55/56,
# hostile 51/53); a rule change that loses more yeses than this must say so here
RECALL_FLOOR = {"dev": 0.96, "holdout": 0.98, "hostile": 0.96}


def test_the_labelled_set_is_large_and_varied():
    rows = labelled_replies()
    korean = [r for r in rows if r.language == "ko"]
    assert len(rows) >= 400 and len(korean) >= 300 and len(rows) - len(korean) >= 100
    assert {r.label for r in rows} == set(ReplyLabel)
    unpunctuated = [r for r in rows if not any(p in r.text for p in ".,?!")]
    assert len(unpunctuated) > len(rows) / 2  # ASR output carries no punctuation
    texts = {r.text for r in rows}
    assert set(ISSUE_REPLIES) <= texts


def test_the_hostile_split_holds_the_tester_replies_and_clear_yeses():
    rows = labelled_replies("hostile")
    by_text = {r.text: r.label for r in rows}
    assert {text: by_text.get(text) for text in TESTER_REPLIES} == TESTER_REPLIES
    assert len(rows) >= len(TESTER_REPLIES) + 60 + 40
    assert sum(r.label is ReplyLabel.CONFIRM for r in rows) >= 40
    assert len(by_text) == len(rows)  # no reply twice
    assert {r.language for r in rows} == {"ko", "en"}


@pytest.mark.parametrize("split", SPLITS)
def test_no_false_confirm_in_any_split(split):
    wrong = [
        (r.label.value, r.text, read_reply(r.text, expected=LABELLED_EXPECTED).cues)
        for r in labelled_replies(split)
        if r.label is not ReplyLabel.CONFIRM
        and read_reply(r.text, expected=LABELLED_EXPECTED).label is ReplyLabel.CONFIRM
    ]
    assert wrong == []


@pytest.mark.parametrize("split", SPLITS)
def test_clear_yes_is_recognised_in_every_split(split):
    yes = [r for r in labelled_replies(split) if r.label is ReplyLabel.CONFIRM]
    read = [r for r in yes if read_reply(r.text, expected=LABELLED_EXPECTED).label is ReplyLabel.CONFIRM]
    assert len(read) / len(yes) >= RECALL_FLOOR[split], (split, [r.text for r in yes if r not in read])
    # a yes that is not read as one is asked again, never taken for a no
    assert not [r.text for r in yes if read_reply(r.text, expected=LABELLED_EXPECTED).label is ReplyLabel.DENY]


@pytest.mark.parametrize(("text", "label"), TESTER_REPLIES.items())
def test_the_tester_replies_are_not_yes(text, label):
    assert read_reply(text, expected=LABELLED_EXPECTED).label is label


@pytest.mark.parametrize("text", LOOKUP_YES)
def test_a_check_word_agrees_only_to_a_lookup(text):
    assert {r.text for r in labelled_replies()} >= set(LOOKUP_YES)
    assert read_reply(text, expected=LABELLED_EXPECTED, read_only=True).label is ReplyLabel.CONFIRM
    assert read_reply(text, expected=LABELLED_EXPECTED).label is ReplyLabel.UNCLEAR  # a write: asked again


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # agreement signs obey 'nothing else'; negation signs deny; everything else is unclear
        ("ㅇㅇ", ReplyLabel.CONFIRM),
        ("ㅇㅋ", ReplyLabel.CONFIRM),
        ("👍🏻", ReplyLabel.CONFIRM),
        ("🙆‍♀️", ReplyLabel.CONFIRM),
        ("네 👌", ReplyLabel.CONFIRM),
        ("ㅇㅇ ㅋㅋ", ReplyLabel.UNCLEAR),
        ("네 👍 근데 잠깐만요", ReplyLabel.UNCLEAR),
        ("ㅇ", ReplyLabel.UNCLEAR),
        ("네 😊", ReplyLabel.UNCLEAR),
        ("네^^", ReplyLabel.UNCLEAR),
        ("네 ✅", ReplyLabel.UNCLEAR),
        ("yes :)", ReplyLabel.UNCLEAR),
        ("네 ᄒᄒ", ReplyLabel.UNCLEAR),  # conjoining jamo
        ("はい", ReplyLabel.UNCLEAR),
        ("ㄴ", ReplyLabel.DENY),
        ("🙅‍♂️", ReplyLabel.DENY),
        ("네 ⛔️", ReplyLabel.DENY),
        ("yes 🚫", ReplyLabel.DENY),
        ("ok ㄴㄴ", ReplyLabel.DENY),
        ("네 👍\u200d👎", ReplyLabel.DENY),  # a ZWJ sequence is read by every emoji it joins
        ("👍\u200d😂", ReplyLabel.UNCLEAR),
        ("네 맞쥬", ReplyLabel.UNCLEAR),  # dialect -쥬 is -죠
        # full-width and typographic forms read as their ASCII spelling
        ("네！", ReplyLabel.CONFIRM),
        ("yes, that’s right", ReplyLabel.CONFIRM),
        ("네\u200b", ReplyLabel.CONFIRM),
        # a different action, a state, the past, only, a tag question, trailing off, hedges, sarcasm
        ("네 확인해 주세요", ReplyLabel.UNCLEAR),
        ("네 환불 신청했어요", ReplyLabel.UNCLEAR),
        ("네 환불되는 거죠", ReplyLabel.UNCLEAR),
        ("네 알았어요", ReplyLabel.UNCLEAR),
        ("그렇군요", ReplyLabel.UNCLEAR),
        ("아 그래요", ReplyLabel.UNCLEAR),
        ("번호는 맞아요", ReplyLabel.UNCLEAR),
        ("맞을 거예요", ReplyLabel.UNCLEAR),
        ("네 하시든지", ReplyLabel.UNCLEAR),
        ("네 그렇습니다만", ReplyLabel.UNCLEAR),
        ("네 하면 되잖아요", ReplyLabel.UNCLEAR),
        ("네 해 달라고요", ReplyLabel.UNCLEAR),
        ("yeah right", ReplyLabel.UNCLEAR),
        ("ok I know", ReplyLabel.UNCLEAR),
        ("yes, just check", ReplyLabel.UNCLEAR),
        # ... while a plain yes in its many forms stays one
        ("네 알겠습니다", ReplyLabel.CONFIRM),
        ("물론이죠", ReplyLabel.CONFIRM),
        ("네 당연하지요", ReplyLabel.CONFIRM),
        ("네 맞구요 진행해 주세요", ReplyLabel.CONFIRM),
        ("네 그렇게 해 주시면 감사하겠습니다", ReplyLabel.CONFIRM),
        ("어 그래", ReplyLabel.CONFIRM),
        ("넵 부탁드립니다", ReplyLabel.CONFIRM),
        ("네 ok", ReplyLabel.CONFIRM),
        ("yeah that's right", ReplyLabel.CONFIRM),
    ],
)
def test_signs_and_hedges(text, label):
    assert read_reply(text, expected=LABELLED_EXPECTED).label is label


@pytest.mark.parametrize("mark", ["?", "？", "‽", "⁇", "؟", "⸮", "¿", "❓"])
def test_a_question_mark_of_any_script_is_a_question(mark):
    for text in (f"네{mark}", f"네 진행해 주세요 {mark}", f"yes{mark}"):
        reading = read_reply(text, expected=LABELLED_EXPECTED)
        assert reading.label is ReplyLabel.UNCLEAR and "question" in reading.cues, text


@pytest.mark.parametrize("text", ISSUE_REPLIES)
def test_the_issue_replies_are_not_yes(text):
    assert read_reply(text, expected="8841").label is not ReplyLabel.CONFIRM


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("네 맞아요", ReplyLabel.CONFIRM, None),
        ("음 네진행해주세요", ReplyLabel.CONFIRM, None),
        ("네 8841 맞아요", ReplyLabel.CONFIRM, None),
        ("아니요 8842번이에요", ReplyLabel.CORRECT, "8842"),
        ("네 8842번이요", ReplyLabel.CORRECT, "8842"),
        ("네 근데 환불은 하지 마세요", ReplyLabel.DENY, None),
        ("아니요", ReplyLabel.DENY, None),
        ("50000원 맞아요", ReplyLabel.UNCLEAR, None),  # an amount is not an order number
        ("진행해도 될까요", ReplyLabel.UNCLEAR, None),
        ("yes please go ahead", ReplyLabel.CONFIRM, None),
        ("no it's 8842", ReplyLabel.CORRECT, "8842"),
        ("yes but how long", ReplyLabel.UNCLEAR, None),
        ("", ReplyLabel.UNCLEAR, None),
    ],
)
def test_readings(text, label, value):
    reading = read_reply(text, expected="8841")
    assert (reading.label, reading.value) == (label, value)


def test_a_number_without_an_expected_value_is_not_a_yes():
    assert read_reply("네 8842", expected=None).label is ReplyLabel.UNCLEAR


def test_without_kiwi_only_the_plainest_yes_confirms(monkeypatch):
    monkeypatch.setattr(replies, "_kiwi", None)
    monkeypatch.setattr(replies, "_loaded", True)
    assert read_reply("네 맞아요").label is ReplyLabel.CONFIRM
    assert read_reply("아니요").label is ReplyLabel.DENY
    assert read_reply("네 👍").label is ReplyLabel.UNCLEAR  # no sign beside Korean words without kiwi
    assert read_reply("네 ㄴㄴ").label is ReplyLabel.DENY
    false = [
        r.text
        for r in labelled_replies()
        if r.label is not ReplyLabel.CONFIRM and read_reply(r.text).label is ReplyLabel.CONFIRM
    ]
    assert false == []
