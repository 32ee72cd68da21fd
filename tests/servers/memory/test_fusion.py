"""Memory fusion: the passage a vector is computed from, and RRF / convex fusion of the two lists."""

from __future__ import annotations

from servers.memory_server.passage import PASSAGE_FORMAT, passage_text
from servers.memory_server.ranking import DEFAULT_FUSION, Fusion, fuse


def test_passage_has_the_speaker_when_there_is_one() -> None:
    assert passage_text("I moved to Busan.", {"speaker": "Caroline"}) == "Caroline: I moved to Busan."
    assert passage_text("문자로 연락 주세요", {"speaker": "  "}) == "문자로 연락 주세요"
    assert passage_text("문자로 연락 주세요", None) == "문자로 연락 주세요"
    assert PASSAGE_FORMAT and "|" not in PASSAGE_FORMAT  # part of the stored vector's model id


def test_fusion_scales_and_orders() -> None:
    lexical = [(7, 12.0), (3, 8.0), (9, 1.0)]
    dense = [(3, 0.91), (7, 0.90), (5, 0.40)]
    for fusion in (DEFAULT_FUSION, Fusion("rrf", 60, 1.0, 1.0), Fusion("convex", 0, 0.3, 0.7)):
        scored = fuse(lexical, dense, fusion)
        assert set(scored) == {3, 5, 7, 9}
        assert max(scored.values()) <= 1.0 + 1e-9 and min(scored.values()) >= 0.0
        assert scored[9] < scored[7] and scored[5] < scored[3]
    # first in both lists scores exactly 1
    assert fuse([(1, 5.0), (2, 1.0)], [(1, 0.9), (2, 0.1)], DEFAULT_FUSION)[1] == 1.0
    # dense-led weights: the dense winner beats the lexical winner
    convex = fuse(lexical, [(3, 0.91), (7, 0.60), (5, 0.40)], Fusion("convex", 0, 0.2, 0.8))
    assert convex[3] > convex[7]
    # one list missing: the other alone decides, still scaled to 1 at the top
    only_dense = fuse([], dense, DEFAULT_FUSION)
    assert only_dense[3] == 1.0 and list(only_dense) == [3, 7, 5]
    assert fuse([], [], DEFAULT_FUSION) == {}
