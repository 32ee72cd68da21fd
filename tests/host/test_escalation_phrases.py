"""When an utterance hands the session to a person: asked for one, a legal or complaint threat,
profanity, anger; and when it does not: a request declined, a question about the law, a lost-card
report, ordinary words with the same syllables.

Measured on host/data/escalation_phrases.tsv (split, label, family, reason, utterance):

- ``dev``: every case a tester reported and the near-misses the rules were built on;
- ``holdout``: written before the rules, measured once (0 missed, 0 false escalations), not tuned on;
- ``probe``: written after the first version of the rules to break them. Measured before any fix:
  17 of 55 escalations missed, 7 of 54 false escalations. The general gaps were then fixed (more
  person words, '기계 말고 사람', possessives, threat forms of 소송, stretched and masked swearing,
  '취소' as a refusal), so the probe is no longer unseen; what is still wrong is asserted below
  exactly, so it shows if it changes.

- a hostile-customer walk (2026-12) added 106 rows (dev 81, holdout 25): a person asked for in other
  words ('사람이요', '너 말고 다른 사람', 'AI 말고요', '봇이랑 말하기 싫어요'), threats to post publicly,
  an agent mentioned in the past ('상담원한테 물어봤는데 …', not a request) and a new label,
  ``frustrated`` ('답답해 죽겠네': not escalated at once; the offline planner offers a person on the
  second such turn). Before the fix: dev 32 of 38 new escalations missed, 5 of 25 look-alikes escalated,
  0 of 18 frustrations read; holdout 9 of 10 missed, 0 false. After: 0 / 0 / 18 of 18; the holdout,
  written before the rules and measured once, 0 missed, 0 false, 6 of 6 frustrations.

Before this rule set (the earlier _ESCALATE/_ANGRY_STRONG) the same 326 utterances had 107 of 165
escalations missed and 44 of 161 false escalations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from host import nlu
from host.labelled import labelled_replies
from host.nlu import Escalation, Intent

DATA = Path(nlu.__file__).parent / "data" / "escalation_phrases.tsv"
PACK = Path(nlu.__file__).parent / "evals" / "packs" / "ko-callcenter" / "scenarios"


class Row(NamedTuple):
    split: str
    escalate: bool
    family: str | None
    reason: str
    text: str
    frustrated: bool = False


def rows(*splits: str) -> list[Row]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        split, label, family, reason, text = line.split("\t")
        assert label in ("escalate", "none", "frustrated"), line
        family_or_none = None if family == "-" or label == "frustrated" else family
        assert label != "frustrated" or family == "frustration", line
        out.append(Row(split, label == "escalate", family_or_none, reason, text, label == "frustrated"))
    return [r for r in out if not splits or r.split in splits]


def escalates(text: str) -> bool:
    """What host/escalation.py's policies do with the utterance (ASR confidence aside)."""
    return nlu.wants_human(text) or nlu.is_angry(text)


# what the probe still gets wrong, on purpose or not (see host/nlu.py's notes on each family)
PROBE_MISSED = {"시바 뭐야"}  # '시바' is left out: 시바견 (the dog) is sold
PROBE_FALSE = {"존나이트 책 있어요?"}  # a name written without its space reads as 존나

# every case the tester reported, with what it should do
REPORTED = {
    "변호사 선임해서 법적 조치 하겠습니다": True,
    "법적 대응": True,
    "경찰에 신고": True,
    "공정위 신고": True,
    "소보원 민원 넣을게요": True,
    "소비자원 민원 넣을게요": True,
    "금감원 민원 넣을게요": True,
    "legal action": True,
    "my lawyer": True,
    "I will sue": True,
    "씨발": True,
    "ㅅㅂ": True,
    "존나": True,
    "개같은": True,
    "fuck this": True,
    "bullshit": True,
    "콜센터 연결해 주세요": True,
    "매니저 불러주세요": True,
    "책임자 바꿔": True,
    "전화 연결해 주세요": True,
    "사람 바꿔 주세요": True,
    "상담사": True,
    "직원 연결": True,
    "agent please": True,
    "I want to speak with someone": True,
    "talk to a human": True,
    "representative": True,
    "상담원연결해주세요": True,
    "변호사선임하겠습니다": True,
    "상담원 연결은 필요 없어요": False,
    "상담원 안 불러도 돼요": False,
    "no need for an agent": False,
    "I don't want to talk to a person": False,
    "법적으로 환불 기간이 어떻게 되나요?": False,
    "카드 분실 신고했는데 결제된 거 취소돼요?": False,
    "물류센터가 시발점이라고 나오는데 언제 와요?": False,
    "존재하지 않는 주문번호라고 나와요": False,
}


def test_the_set_is_large_enough_and_holds_every_reported_case():
    labelled = {r.text: r.escalate for r in rows()}
    assert len(labelled) == len(rows()), "an utterance is labelled twice"
    assert len(labelled) >= 120
    assert {text: labelled.get(text) for text in REPORTED} == REPORTED
    for r in rows():
        assert r.reason.strip(), r
        assert (r.family is not None) == r.escalate, r
        assert r.family is None or r.family in {e.value for e in Escalation}, r


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_no_escalation_is_missed(split):
    assert [r.text for r in rows(split) if r.escalate and not escalates(r.text)] == []


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_no_false_escalation(split):
    assert [r.text for r in rows(split) if not r.escalate and escalates(r.text)] == []


# a hostile-customer walk (2026-12): what each of its utterances must do now
WALK = {
    "봇이랑 말하기 싫어요": Escalation.HUMAN_REQUEST,
    "너 말고 다른 사람": Escalation.HUMAN_REQUEST,
    "AI 말고요": Escalation.HUMAN_REQUEST,
    "인터넷에 다 올릴게요": Escalation.LEGAL_THREAT,
    "상담원한테 물어봤는데 환불 된다던데요": None,
}
WALK_FRUSTRATED = ["답답해 죽겠네", "말이 안 통하네 진짜", "you're useless", "쓸모없는 봇"]


def test_the_walk_utterances_do_what_they_should():
    labelled = {r.text for r in rows()}
    assert set(WALK) | set(WALK_FRUSTRATED) <= labelled
    assert {text: nlu.escalation_reason(text) for text in WALK} == WALK
    assert [text for text in WALK_FRUSTRATED if not nlu.frustrated(text) or escalates(text)] == []


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_frustration_is_read_and_not_escalated_at_once(split):
    """Frustrated turns are counted by the offline planner (a person is offered on the second one)."""
    labelled = [r for r in rows(split) if r.frustrated]
    assert labelled
    assert [r.text for r in labelled if not nlu.frustrated(r.text) or escalates(r.text)] == []


def test_no_calm_utterance_reads_as_frustrated():
    assert [r.text for r in rows() if not r.escalate and not r.frustrated and nlu.frustrated(r.text)] == []


def test_the_probe_is_wrong_exactly_where_measured():
    probe = rows("probe")
    assert len(probe) == 109
    assert {r.text for r in probe if r.escalate and not escalates(r.text)} == PROBE_MISSED
    assert {r.text for r in probe if not r.escalate and escalates(r.text)} == PROBE_FALSE


def test_each_escalation_names_its_family():
    wrong = [
        (r.family, nlu.escalation_reason(r.text), r.text)
        for r in rows()
        if r.escalate and r.text not in PROBE_MISSED and nlu.escalation_reason(r.text) != r.family
    ]
    assert wrong == []
    assert [
        r.text for r in rows() if not r.escalate and r.text not in PROBE_FALSE and nlu.escalation_reason(r.text)
    ] == []


def test_requests_for_a_person_and_the_other_families_go_to_their_policy():
    """wants_human → source 'customer'; threats, profanity and anger → is_angry ('angry_customer')."""
    for r in rows():
        if not r.escalate or r.text in PROBE_MISSED:
            continue
        if r.family == Escalation.HUMAN_REQUEST:
            assert nlu.wants_human(r.text), r.text
        else:
            assert nlu.is_angry(r.text), r.text


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("상담원 연결은 필요 없어요", Intent.UNKNOWN),
        ("상담원 연결은 필요 없어요 8841 환불 상태 알려 주세요", Intent.REFUND_STATUS),
        ("상담원 말고 그냥 8841 조회만 해 주세요", Intent.ORDER_LOOKUP),
        ("콜센터 연결해 주세요", Intent.ESCALATE),
        ("전화 연결해 주세요 8841 환불이요", Intent.ESCALATE),
        ("받는 사람 바꿔 주세요", Intent.UNKNOWN),
    ],
)
def test_the_planner_reads_a_declined_request_as_the_rest_of_the_sentence(text, intent):
    assert nlu.classify(text) == intent


def test_the_product_own_customer_lines_escalate_only_where_the_eval_pack_expects():
    """The eval pack's customer turns and the labelled confirmation replies: nothing in a scenario
    that expects no escalation, nothing in a reply to a confirmation prompt."""
    calm = []
    for path in sorted(PACK.glob("*.json")):
        for scenario in json.loads(path.read_text(encoding="utf-8")):
            if scenario["expect"].get("escalated") is False:
                calm += [t["say"] for t in scenario["customer"]["turns"] if "say" in t]
    assert calm
    assert [t for t in calm if escalates(t)] == []
    assert [r.text for r in labelled_replies() if escalates(r.text)] == []


def test_a_long_utterance_is_read_in_linear_time():
    for unit in ("don't want to talk to a person ", "사람 좀 ", "두 개 같은 ", "분실 신고할게요 "):
        text = unit * (20_000 // len(unit))
        started = time.perf_counter()
        nlu.escalation_reason(text)
        nlu.wants_human(text)
        nlu.is_angry(text)
        assert time.perf_counter() - started < 2.0, unit
