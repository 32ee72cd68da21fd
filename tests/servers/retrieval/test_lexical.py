"""BM25: the static (bm25s) and incremental indexes agree, and both handle edge cases."""

from __future__ import annotations

import pytest

from servers.retrieval.lexical import IncrementalBM25, StaticBM25

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
