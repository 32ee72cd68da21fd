"""The production fusion rules: script-dependent weights, cross-lingual gating, score scale."""

from __future__ import annotations

from servers.kb_server.search import DEFAULT_FUSION, FusionConfig, fuse, is_hangul_query, validate_query

LEX = [("a", 12.0), ("b", 9.0), ("c", 1.0)]
DENSE = [("c", 0.9), ("b", 0.8), ("d", 0.7)]


def test_script_detection() -> None:
    assert is_hangul_query("환불 언제 돼요?") and is_hangul_query("갤럭시 S24 교환")
    assert not is_hangul_query("refund policy for iPhone") and not is_hangul_query("12345")


def test_first_in_both_lists_scores_one() -> None:
    fused = fuse([("x", 3.0)], [("x", 0.9)], 1.0)
    assert fused == [("x", 1.0)]
    assert all(0 < s <= 1 for _, s in fuse(LEX, DENSE, 1.0))


def test_lexical_weighs_more_for_hangul_queries() -> None:
    config = FusionConfig(lexical_weight_hangul=3.0, lexical_weight_other=0.3, rrf_k=10)
    lexical_only, dense_only = [("a", 12.0)], [("d", 0.9)]
    assert fuse(lexical_only, dense_only, 1.0, config, hangul=True)[0][0] == "a"
    assert fuse(lexical_only, dense_only, 1.0, config, hangul=False)[0][0] == "d"


def test_lexical_dropped_when_query_terms_are_foreign_to_the_corpus() -> None:
    gated = fuse(LEX, DENSE, DEFAULT_FUSION.min_vocab_share - 0.01)
    assert [d for d, _ in gated] == ["c", "b", "d"]
    assert [d for d, _ in fuse(LEX, [], 0.0)] == ["a", "b", "c"]  # no dense list: keep keywords
    assert fuse([], [], 1.0) == []


def test_query_cleaning() -> None:
    assert validate_query("  환불\x00 언제\n돼요 ") == "환불 언제 돼요"
    assert validate_query("?!") is None


def test_lexical_is_decisive_only_with_a_clear_winner_and_known_terms() -> None:
    from servers.retrieval.fusion import lexical_is_decisive

    clear, close = [("a", 10.0), ("b", 5.0)], [("a", 10.0), ("b", 9.0)]
    assert lexical_is_decisive(clear, 1.0, min_gap=0.3, min_share=0.8)
    assert lexical_is_decisive([("a", 2.0)], 1.0, min_gap=0.3, min_share=0.8)
    assert not lexical_is_decisive(close, 1.0, min_gap=0.3, min_share=0.8)  # no clear winner
    assert not lexical_is_decisive(clear, 0.5, min_gap=0.3, min_share=0.8)  # unknown query terms
    assert not lexical_is_decisive([], 1.0, min_gap=0.3, min_share=0.8)
    assert not lexical_is_decisive([("a", 0.0)], 1.0, min_gap=0.0, min_share=0.0)  # no score, no winner
    assert not lexical_is_decisive(clear, 1.0, min_gap=1.5, min_share=0.0)  # turned off
