"""BM25: the static (bm25s) and incremental indexes agree, and both handle edge cases."""

from __future__ import annotations

import pytest

from servers.retrieval.lexical import IncrementalBM25, StaticBM25, terms

DOCS = {
    "refund": ["환불", "영업일", "카드", "환불"],
    "ship": ["배송", "택배", "영업일"],
    "plan": ["요금제", "데이터", "변경"],
    "empty": [],
}


def build() -> tuple[StaticBM25, IncrementalBM25]:
    static = StaticBM25.build(list(DOCS), list(DOCS.values()))
    inc = IncrementalBM25()
    for doc_id, tokens in DOCS.items():
        inc.add(doc_id, tokens)
    return static, inc


@pytest.mark.parametrize("query", [["환불"], ["영업일"], ["환불", "배송"], ["요금제", "데이터", "없는말"]])
def test_static_and_incremental_give_the_same_scores(query: list[str]) -> None:
    static, inc = build()
    a, b = static.search(query, 10), inc.search(query, 10)
    assert [d for d, _ in a] == [d for d, _ in b]
    assert all(abs(x - y) < 1e-4 for (_, x), (_, y) in zip(a, b, strict=True))
    assert a and a[0][1] > 0


def test_unknown_or_empty_query_gives_nothing() -> None:
    static, inc = build()
    for index in (static, inc):
        assert index.search([], 5) == []
        assert index.search(["없는말"], 5) == []
        assert index.search(["환불"], 0) == []


def test_empty_corpus() -> None:
    assert StaticBM25.build([], []).search(["환불"], 5) == []
    assert IncrementalBM25().search(["환불"], 5) == []


def test_incremental_add_remove_replace() -> None:
    _, inc = build()
    assert inc.remove("refund") and not inc.remove("refund")
    assert inc.search(["환불"], 5) == []
    inc.add("ship", ["환불"])  # replaces the old entry
    assert [d for d, _ in inc.search(["환불"], 5)] == ["ship"]
    assert inc.search(["택배"], 5) == []
    assert len(inc) == 3 and "ship" in inc


def test_static_save_and_load(tmp_path) -> None:
    static, _ = build()
    static.save(tmp_path / "ix")
    loaded = StaticBM25.load(tmp_path / "ix")
    assert loaded.search(["환불", "배송"], 5) == static.search(["환불", "배송"], 5)
    (tmp_path / "ix" / "ids.json").write_text('["a"]')
    with pytest.raises(ValueError):
        StaticBM25.load(tmp_path / "ix")


def test_top_k_is_respected() -> None:
    static, inc = build()
    assert len(static.search(["영업일"], 1)) == 1 and len(inc.search(["영업일"], 1)) == 1


def test_english_words_meet_at_their_stem_and_other_tokens_stay_whole() -> None:
    assert terms(["policies", "policy", "delivered", "delivering"]) == ["polici", "polici", "deliv", "deliv"]
    kept = ["환불", "영업일", "15", "iphone15", "a@b.com", "sku-12"]
    assert terms(kept) == kept
    static = StaticBM25.build(["p", "d"], [["refund", "policy"], ["delivered", "parcel"]])
    assert [d for d, _ in static.search(["policies"], 5)] == ["p"]
    assert [d for d, _ in static.search(["delivering"], 5)] == ["d"]
    assert static.vocabulary_share(["policies", "없는말"]) == 0.5
    assert static.coverage(["policies", "refunds", "parcel"], 0) == 2 / 3
    inc = IncrementalBM25()
    inc.add("p", ["refund", "policy"])
    assert [d for d, _ in inc.search(["policies"], 5)] == ["p"]


def test_plain_index_keeps_tokens_as_they_are(tmp_path) -> None:
    plain = StaticBM25.build(["p"], [["policy"]], stem=False)
    assert plain.search(["policies"], 5) == [] and plain.search(["policy"], 5)
    plain.save(tmp_path / "plain")
    assert StaticBM25.load(tmp_path / "plain").search(["policies"], 5) == []


def test_an_index_saved_with_other_terms_is_refused_so_the_caller_rebuilds(tmp_path) -> None:
    static, _ = build()
    static.save(tmp_path / "ix")
    (tmp_path / "ix" / "terms.json").write_text('"porter-0"')
    with pytest.raises(ValueError, match="other terms"):
        StaticBM25.load(tmp_path / "ix")
    (tmp_path / "ix" / "terms.json").unlink()  # saved before terms existed
    with pytest.raises(FileNotFoundError):
        StaticBM25.load(tmp_path / "ix")
