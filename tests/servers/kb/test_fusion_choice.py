"""The fusion chosen across data sets: BM25's winner must hold the question's words before dense
retrieval is skipped, and a lexical list whose winner holds few of them counts for less."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from servers.kb_server import store
from servers.kb_server.indexes import VersionIndex
from servers.kb_server.search import FusionConfig, fuse, search, skips_dense, term_coverage
from servers.kb_server.vectors import embed_all
from servers.retrieval.embedding import get_embedder
from servers.retrieval.lexical import StaticBM25

CLEAR = [("a", 10.0), ("b", 4.0)]  # one clear BM25 winner


def test_skip_needs_the_winner_to_hold_the_question_words() -> None:
    strict = FusionConfig(skip_dense_gap=0.3, skip_dense_coverage=0.75)
    assert skips_dense(CLEAR, 1.0, strict, top_coverage=1.0)
    assert not skips_dense(CLEAR, 1.0, strict, top_coverage=0.5)  # confident, but on one shared word
    assert not skips_dense([("a", 10.0), ("b", 9.5)], 1.0, strict, top_coverage=1.0)  # no clear winner
    assert not skips_dense(CLEAR, 0.4, strict, top_coverage=1.0)  # unknown words
    loose = FusionConfig(skip_dense_gap=0.3, skip_dense_coverage=0.0)
    assert skips_dense(CLEAR, 1.0, loose, top_coverage=0.0)  # coverage not demanded
    assert not skips_dense(CLEAR, 1.0, FusionConfig(skip_dense_gap=1.5), top_coverage=1.0)  # skipping off


def test_a_weak_lexical_winner_yields_to_dense() -> None:
    config = FusionConfig(lexical_weight_hangul=2.0, rrf_k=10, weak_lexical_coverage=0.6, weak_lexical_factor=0.25)
    lexical, dense = [("a", 9.0), ("b", 3.0)], [("b", 0.9), ("a", 0.5)]
    assert fuse(lexical, dense, 1.0, config, top_coverage=1.0)[0][0] == "a"  # BM25 winner holds the words
    assert fuse(lexical, dense, 1.0, config, top_coverage=0.3)[0][0] == "b"  # it does not: trust dense
    assert fuse(lexical, [], 1.0, config, top_coverage=0.3)[0][0] == "a"  # no dense list: keywords stand
    scores = [s for _, s in fuse(lexical, dense, 1.0, config, top_coverage=0.3)]
    assert all(0 < s <= 1 for s in scores)


def test_term_coverage_reads_the_chunk_from_the_bm25_index() -> None:
    ids = ["chk_1", "chk_2", "chk_3"]
    bm25 = StaticBM25.build(ids, [["환불", "기간", "영업일"], ["배송", "기간"], ["교환", "불가"]])
    index = VersionIndex("acme", "kb_1", 1, bm25, {})
    assert term_coverage([index], ["환불", "기간"], "chk_1") == 1.0
    assert term_coverage([index], ["환불", "기간", "환불"], "chk_2") == 0.5  # distinct terms
    assert term_coverage([index], ["환불", "모르는말"], "chk_3") == 0.0
    assert term_coverage([index], ["환불"], "chk_missing") == 0.0
    unsorted = VersionIndex("acme", "kb_2", 1, StaticBM25.build(["z", "a"], [["배송"], ["환불"]]), {})
    assert term_coverage([index, unsorted], ["환불"], "a") == 1.0  # found in the second index, any order
    assert term_coverage([index], [], "chk_1") == 0.0


class CountingEmbedder:
    """The real embedder, counting the queries it embeds."""

    def __init__(self) -> None:
        self.inner = get_embedder()
        self.model_id, self.dim, self.queries = self.inner.model_id, self.inner.dim, 0

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


DOC = (
    "# 안내\n\n## 환불\n\n환불은 결제 취소 후 3영업일 안에 카드사로 돌아갑니다.\n\n"
    "## 배송\n\n배송은 주문 다음 날 출발하며 제주와 도서 지역은 이틀이 더 걸립니다.\n\n"
    "## 멤버십\n\n멤버십 등급은 지난 6개월 구매 금액으로 매달 1일에 다시 정해집니다.\n"
)


async def test_search_embeds_the_question_unless_bm25_winner_holds_its_words(database_url: str) -> None:
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", DOC.encode())])
    await embed_all(org_id="acme")
    strict = FusionConfig(skip_dense_gap=0.0, skip_dense_share=1.0, skip_dense_coverage=1.0)
    embedder = CountingEmbedder()
    hits = await search("acme", "멤버십 등급 구매 금액", embedder=embedder, config=strict)
    assert embedder.queries == 0 and "멤버십" in hits[0]["text"]  # every word in the winner: BM25 alone
    question = "멤버십 제주 카드사"  # known words, each in another chunk
    await search("acme", question, embedder=embedder, config=replace(strict, skip_dense_coverage=0.0))
    assert embedder.queries == 0  # BM25 alone is confident about it ...
    hits = await search("acme", question, embedder=embedder, config=strict)
    assert embedder.queries == 1 and hits[0]["similarity"] is not None  # ... but its winner holds one word of three


def test_a_saved_version_index_from_before_stemming_is_rebuilt_not_misread() -> None:
    from servers.kb_server import indexes

    bm25 = StaticBM25.build(["chk_1"], [["refund", "policy"]])
    indexes._save(VersionIndex("acme", "kb_stem", 1, bm25, {"sha": ["chk_1"]}))
    loaded = indexes._load("acme", "kb_stem", 1)
    assert loaded is not None and [c for c, _ in loaded.bm25.search(["policies"], 5)] == ["chk_1"]
    saved = indexes.index_dir("kb_stem", 1)
    (saved / "bm25" / "terms.json").unlink()  # as an index saved before index terms were stemmed
    assert indexes._load("acme", "kb_stem", 1) is None and not saved.exists()
