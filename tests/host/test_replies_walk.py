"""Clear yeses a hostile-customer walk found refused, and their look-alikes (host/replies.py).

"예스", "ㄱㄱ", "네 팔천팔백사십일번 맞아요" (the order in Korean digits) and "안 할 이유가 없죠" ('no reason
not to': it was read as a no and the refund dropped) are yes; "안 할 이유가 없죠?" asks, "할 이유가 없죠"
is a no. The prompt's own amount said back agrees when the caller passes it (``amount``); any other
amount is not a yes. Rows: host/data/confirm_replies_hostile.tsv.
"""

from __future__ import annotations

import pytest

from host.labelled import labelled_replies
from host.replies import ReplyLabel, read_reply

YES = ["예스", "ㄱㄱ", "네 팔천팔백사십일번 맞아요", "안 할 이유가 없죠", "하지 않을 이유가 없네요"]
NOT_YES = {
    "안 할 이유가 없죠?": ReplyLabel.UNCLEAR,
    "할 이유가 없죠": ReplyLabel.DENY,
    "예스 근데 잠깐만요": ReplyLabel.UNCLEAR,
    "ㄱㄱ ㅋㅋ": ReplyLabel.UNCLEAR,
    "네 35,000원 맞아요": ReplyLabel.UNCLEAR,
}


def test_the_walk_replies_are_labelled():
    labelled = {r.text: r.label for r in labelled_replies("hostile")}
    assert {t: labelled.get(t) for t in YES} == dict.fromkeys(YES, ReplyLabel.CONFIRM)
    assert {t: labelled.get(t) for t in NOT_YES} == NOT_YES


@pytest.mark.parametrize("text", YES)
def test_a_clear_yes_in_other_words_confirms(text):
    assert read_reply(text, expected="8841").label is ReplyLabel.CONFIRM


@pytest.mark.parametrize(("text", "label"), NOT_YES.items())
def test_its_look_alikes_do_not(text, label):
    assert read_reply(text, expected="8841", amount=50_000).label is label


@pytest.mark.parametrize("text", ["네 50,000원 맞아요", "네 50000원 맞아요", "50,000원 맞아요"])
def test_the_prompts_own_amount_said_back_agrees_when_known(text):
    assert read_reply(text, expected="8841", amount=50_000).label is ReplyLabel.CONFIRM
    assert read_reply(text, expected="8841").label is ReplyLabel.UNCLEAR  # amount unknown: asked again


@pytest.mark.parametrize(
    "text",
    [
        "네 35,000원 맞아요",
        "네 50,000원 맞아요?",
        "네 50,000원이랑 3,000원이요",
        "50,000원 말고요",
        "네 5,000원 맞아요",
    ],
)
def test_another_amount_or_a_doubt_never_agrees(text):
    assert read_reply(text, expected="8841", amount=50_000).label is not ReplyLabel.CONFIRM


def test_with_the_amount_no_labelled_reply_becomes_a_false_confirm():
    wrong = [
        r.text
        for r in labelled_replies()
        if r.label is not ReplyLabel.CONFIRM
        and read_reply(r.text, expected="8841", amount=50_000).label is ReplyLabel.CONFIRM
    ]
    assert wrong == []
