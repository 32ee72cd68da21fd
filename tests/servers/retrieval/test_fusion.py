"""Rank fusion."""

from __future__ import annotations

import pytest

from servers.retrieval.fusion import score_fusion, weighted_rrf


def test_rrf_rewards_agreement() -> None:
    fused = weighted_rrf([[("a", 9.0), ("b", 5.0)], [("b", 0.9), ("c", 0.8)]])
    assert fused[0][0] == "b"
    assert {d for d, _ in fused} == {"a", "b", "c"}


def test_rrf_weights_and_zero_weight() -> None:
    lists = [[("a", 1.0)], [("b", 1.0)]]
    assert weighted_rrf(lists, [1.0, 2.0])[0][0] == "b"
    assert [d for d, _ in weighted_rrf(lists, [1.0, 0.0])] == ["a"]
    with pytest.raises(ValueError):
        weighted_rrf(lists, [1.0])


def test_score_fusion_normalises_scales() -> None:
    lexical = [("a", 100.0), ("b", 90.0), ("c", 0.0)]
    dense = [("b", 0.9), ("a", 0.1), ("c", 0.0)]
    fused = score_fusion([lexical, dense], [1.0, 1.0])
    assert [d for d, _ in fused] == ["b", "a", "c"]  # b: 0.9 + 1.0, a: 1.0 + 0.11
    assert score_fusion([]) == []
