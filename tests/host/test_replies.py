"""Reading replies to a confirmation prompt: no reply that is not a clear yes reads as confirm."""

from __future__ import annotations

import pytest

from host import replies
from host.replies import LABELLED_EXPECTED, ReplyLabel, labelled_replies, read_reply

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


def test_the_labelled_set_is_large_and_varied():
    rows = labelled_replies()
    korean = [r for r in rows if r.language == "ko"]
    assert len(rows) >= 400 and len(korean) >= 300 and len(rows) - len(korean) >= 100
    assert {r.label for r in rows} == set(ReplyLabel)
    unpunctuated = [r for r in rows if not any(p in r.text for p in ".,?!")]
    assert len(unpunctuated) > len(rows) / 2  # ASR output carries no punctuation
    texts = {r.text for r in rows}
    assert set(ISSUE_REPLIES) <= texts


def test_no_false_confirm_over_the_whole_set():
    wrong = [
        (r.label.value, r.text)
        for r in labelled_replies()
        if r.label is not ReplyLabel.CONFIRM
        and read_reply(r.text, expected=LABELLED_EXPECTED).label is ReplyLabel.CONFIRM
    ]
    assert wrong == []


def test_clear_yes_is_recognised_in_both_halves():
    for split in ("dev", "holdout"):
        yes = [r for r in labelled_replies(split) if r.label is ReplyLabel.CONFIRM]
        read = [r for r in yes if read_reply(r.text, expected=LABELLED_EXPECTED).label is ReplyLabel.CONFIRM]
        assert len(read) / len(yes) >= 0.94, (split, [r.text for r in yes if r not in read])


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
    false = [
        r.text
        for r in labelled_replies()
        if r.language == "ko" and r.label is not ReplyLabel.CONFIRM and read_reply(r.text).label is ReplyLabel.CONFIRM
    ]
    assert false == []
