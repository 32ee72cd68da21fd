"""The answerability check: a KB passage about the same things as a question is not read out as its
answer unless it holds what is asked or stands out from the other hits (host.answer.answers).

Questions come from the labelled set host/data/kb_questions.tsv, passages from the demo KB; the
hits stand in for a search's results (bench/kb_answers.py measures the real search)."""

from __future__ import annotations

from typing import Any

from host.answer import MIN_SIMILARITY_LEAD, answer_from, answers, content_share
from host.labelled import labelled_questions
from host.providers.offline_texts import TEXT
from servers.kb_server.demo import DEMO_DIR
from tests.host.conftest import make_layer
from tests.host.fake_tools import FakeToolLayer

DOCS = {p.stem: p.read_text(encoding="utf-8") for p in DEMO_DIR.glob("*.md")}
REFUND_DOCS = ("refund-policy", "refund-request", "refund-status", "partial-refund", "return-shipping-fee")
UNANSWERABLE = "환불 받을 계좌를 다른 은행으로 바꾸려면 어떻게 해요"  # the demo KB has no such procedure
UNANSWERABLE_COUPON = "쿠폰 코드 입력하는 칸이 어디 있어요"  # no document says where a code is typed
COUPON_DOCS = ("membership-coupons", "membership-points", "membership-tiers", "hanbit-plus")
ANSWERABLE = "카드 매출전표 어디서 출력해요"  # receipts-tax-invoice says where
PARAPHRASED = "환불 돈 언제 들어와여 카드로 샀는데"  # refund-policy answers it, in other words


def _label(question: str) -> tuple[str, frozenset[str]]:
    row = next(r for r in labelled_questions() if r.question == question)
    return row.label, frozenset(row.doc_ids)


def _hits(doc_ids: tuple[str, ...], similarity: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Demo documents as search hits, best first; all equally similar unless told otherwise."""
    similarity = similarity or {}
    return [
        {
            "kb_id": "kb-demo",
            "kb_name": "고객센터",
            "version": 1,
            "doc_id": doc_id,
            "title": doc_id,
            "chunk_id": f"c-{doc_id}",
            "score": round(1.0 - i / 10, 2),
            "similarity": similarity.get(doc_id, 0.86),
            "text": DOCS[doc_id],
        }
        for i, doc_id in enumerate(doc_ids)
    ]


def _layer(hits: list[dict[str, Any]]) -> FakeToolLayer:
    layer = make_layer()
    layer.handlers["kb_search"] = lambda args: {"query": args["query"], "results": hits}
    return layer


def test_the_labelled_questions_used_here_are_what_these_tests_say_they_are():
    assert _label(UNANSWERABLE)[0] == "none"
    assert _label(UNANSWERABLE_COUPON)[0] == "none"
    assert _label(ANSWERABLE) == ("answer", frozenset({"receipts-tax-invoice"}))
    assert _label(PARAPHRASED) == ("answer", frozenset({"refund-policy"}))


async def test_an_unanswerable_question_gets_kb_none_not_a_cited_sentence(start):
    """Every refund (coupon) document shares "환불" ("쿠폰") with the question and none stands out:
    before the check the planner read out one of their sentences with its citation."""
    assert answer_from(_hits(REFUND_DOCS), UNANSWERABLE) is None
    hits = _hits(COUPON_DOCS)
    assert answer_from(hits, UNANSWERABLE_COUPON) is None
    conv = await start(_layer(hits))
    result = await conv.user_message(UNANSWERABLE_COUPON)
    assert result.answer == TEXT["kb_none"]["ko"]


async def test_an_answerable_question_keeps_its_answer_from_its_document(start):
    hits = _hits(("receipts-tax-invoice", "payment-methods", "refund-policy"))
    chosen = answer_from(hits, ANSWERABLE)
    assert chosen is not None and chosen[0]["doc_id"] == "receipts-tax-invoice"
    conv = await start(_layer(hits))
    result = await conv.user_message(ANSWERABLE)
    assert result.answer != TEXT["kb_none"]["ko"]
    assert "매출전표" in result.answer and "receipts-tax-invoice" in result.answer  # the sentence and its citation


def test_a_question_in_other_words_is_answered_when_its_passage_stands_out():
    """Few of the question's words are in the answering passage ("들어와여" for 환불 완료); its
    dense similarity leading the other hits' is the sign that it answers."""
    share = content_share(PARAPHRASED, {"text": DOCS["refund-policy"]})
    assert share is not None and share < 0.5
    flat = _hits(REFUND_DOCS)
    assert answer_from(flat, PARAPHRASED) is None
    lead = {"refund-policy": 0.86 + 2 * MIN_SIMILARITY_LEAD}
    chosen = answer_from(_hits(REFUND_DOCS, lead), PARAPHRASED)
    assert chosen is not None and chosen[0]["doc_id"] == "refund-policy"


def test_what_cannot_be_compared_is_not_judged():
    hits = _hits(REFUND_DOCS)
    # an English question about a Korean KB shares no words with the passage that answers it
    assert content_share("When will my refund arrive?", hits[0]) is None
    assert answers("When will my refund arrive?", hits[0], hits)
    # nothing but question words
    assert content_share("어떻게 해요?", hits[0]) is None
    # keyword-only results (no similarity) or a single hit: nothing to weigh the share against, so
    # the passage is read out as before the check (the share alone refuses too many paraphrases)
    keyword_only = [{**h, "similarity": None} for h in hits]
    assert answer_from(keyword_only, UNANSWERABLE) is not None
    assert answer_from(hits[:1], UNANSWERABLE) is not None
