"""A memory of several sentences has a vector per sentence as well as one for the whole passage."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from servers.memory_server.index import Doc, IndexCache, ScopeIndex
from servers.memory_server.passage import MAX_SENTENCE_VECTORS, passage_texts
from tests.servers.memory.conftest import drain_vectors

DIM = 4


def test_one_sentence_has_only_the_whole_passage() -> None:
    assert passage_texts("I moved to Busan.", {"speaker": "Caroline"}) == ["Caroline: I moved to Busan."]
    assert passage_texts("문자로 연락 주세요", None) == ["문자로 연락 주세요"]
    assert passage_texts("", None) == [""]


def test_each_sentence_gets_its_own_passage_with_the_speaker() -> None:
    text = "I need car insurance quotes. By the way, I bought my sister a bracelet yesterday! Any tips?"
    assert passage_texts(text, {"speaker": "user"}) == [
        f"user: {text}",
        "user: I need car insurance quotes.",
        "user: By the way, I bought my sister a bracelet yesterday!",
        "user: Any tips?",
    ]
    korean = "배송지를 바꾸고 싶어요. 지난주에 이사했거든요\n새 주소는 부산시 해운대구예요"
    assert passage_texts(korean, None)[1:] == [
        "배송지를 바꾸고 싶어요.",
        "지난주에 이사했거든요",
        "새 주소는 부산시 해운대구예요",
    ]
    # ASR text without punctuation: kiwi still finds the Korean sentence ends
    asr = "어 그러니까 환불은 아직 하지 마세요 배송은 언제 와요"
    assert passage_texts(asr, None)[1:] == ["어 그러니까 환불은 아직 하지 마세요", "배송은 언제 와요"]
    assert len(passage_texts("uh so dont refund it yet when does it ship", None)) == 1


def test_a_long_memory_is_capped_without_losing_text() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(500))
    texts = passage_texts(text, None)
    assert MAX_SENTENCE_VECTORS // 2 < len(texts) - 1 <= MAX_SENTENCE_VECTORS
    assert " ".join(texts[1:]) == text  # every sentence is in exactly one group, in order


def _doc(memory_id: str, text: str = "t") -> Doc:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return Doc(
        id=memory_id, text=text, agent_id=None, run_id=None, kind="fact", categories=[], meta={}, slot=None,
        slot_values={}, source="text", status="active", content_hash=f"h-{memory_id}-{text}", tokens=[text],
        observed_at=at, created_at=at, updated_at=at, valid_to=None, superseded_by=None, vector_model="m",
        observed_ts=at.timestamp(), created_ts=at.timestamp(),
    )  # fmt: skip


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_dense_score_is_the_mean_of_the_whole_and_the_best_sentence() -> None:
    index = ScopeIndex("o", "c", DIM)
    query = _unit(1, 0, 0, 0)
    # "a": the whole turn is about something else, one sentence is the query's fact
    index.upsert(_doc("a"), np.stack([_unit(0, 1, 0, 0), _unit(1, 0, 0, 0), _unit(0, 0, 1, 0)]))
    index.upsert(_doc("b"), _unit(1, 1, 0, 0))  # one vector only
    scores = index.dense_scores(query)
    assert scores[0] == pytest.approx(0.5)  # (0 + 1) / 2
    assert scores[1] == pytest.approx(float(_unit(1, 1, 0, 0)[0]))
    assert index.vector_rows(0).shape == (3, DIM) and index.vector_rows(1).shape == (1, DIM)


def test_rescoring_candidates_gives_the_exact_scores_of_those_candidates() -> None:
    rng = np.random.default_rng(3)
    index = ScopeIndex("o", "c", DIM)
    for i in range(200):
        rows = rng.standard_normal((1 + int(rng.integers(0, 10)), DIM)).astype(np.float32)
        index.upsert(_doc(f"m{i}"), rows / np.linalg.norm(rows, axis=1, keepdims=True))
    index.remove("m7")  # dropped sentence rows must not count
    for _ in range(20):
        query = rng.standard_normal(DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = index.dense_scores(query)
        positions = [int(p) for p in rng.choice(index.size, 40, replace=False) if int(p) != index.pos_of.get("m7", -1)]
        got = index.rescore(positions, index.whole_scores(query), query)
        assert np.allclose(got, exact[positions], atol=1e-6)


def test_a_lexical_hit_joins_the_dense_list_with_its_sentence_score() -> None:
    """A memory whose whole passage is far from the question, but whose one sentence is the
    answer, is outside the whole vectors' candidates; found by keyword, it is scored by its
    sentence in the dense list too."""
    from servers.memory_server.ranking import RankOptions, candidate_lists

    index = ScopeIndex("o", "c", DIM)
    query = _unit(1, 0, 0, 0)
    for i in range(150):  # near the question as a whole, not about it
        index.upsert(_doc(f"near{i}", f"near{i}"), _unit(0.3, 1, 0, 0)[None, :])
    index.upsert(_doc("far", "bracelet"), np.stack([_unit(0, 0, 1, 0), _unit(1, 0, 0, 0), _unit(0, 0, 0, 1)]))
    lexical, dense = candidate_lists(index, ["bracelet"], query, RankOptions(top_k=5))
    far = index.pos_of["far"]
    assert lexical and lexical[0][0] == far
    scores = dict(dense)
    assert scores[far] == pytest.approx(0.5)  # (0 + 1) / 2, above every "near" memory's 0.29
    assert dense[0][0] == far


def test_replacing_and_removing_drop_the_old_sentence_vectors() -> None:
    index = ScopeIndex("o", "c", DIM)
    query = _unit(1, 0, 0, 0)
    index.upsert(_doc("a"), np.stack([_unit(0, 1, 0, 0), _unit(1, 0, 0, 0)]))
    index.upsert(_doc("b"), np.stack([_unit(0, 0, 1, 0), _unit(0, 0, 0, 1)]))
    # same text again without vectors (a status change): the sentences stay
    index.upsert(_doc("a"), None)
    assert index.dense_scores(query)[0] == pytest.approx(0.5)
    # new vectors for "a" replace its sentences; the old rows are zeroed, not left behind
    index.upsert(_doc("a"), _unit(0, 1, 0, 0)[None, :])
    assert index.dense_scores(query)[0] == pytest.approx(0.0)
    assert not (index.sentence_vectors[: index.sentence_rows] == _unit(1, 0, 0, 0)).all(axis=1).any()
    index.remove("b")
    assert not index.sentence_vectors.any()  # an erased memory's sentence vectors are gone
    assert index.dense_scores(query)[1] == 0.0


def test_compaction_keeps_every_vector() -> None:
    index = ScopeIndex("o", "c", DIM)
    for i in range(300):
        index.upsert(_doc(f"gone{i}"), np.stack([_unit(0, 1, 0, 0), _unit(0, 0, 1, 0)]))
    index.upsert(_doc("kept"), np.stack([_unit(0, 1, 0, 0), _unit(1, 0, 0, 0)]))
    for i in range(300):
        index.remove(f"gone{i}")
    assert index.needs_compaction()
    fresh = index.compacted()
    pos = fresh.pos_of["kept"]
    assert fresh.size == 1 and fresh.sentence_rows == 1
    assert fresh.dense_scores(_unit(1, 0, 0, 0))[pos] == pytest.approx(0.5)


def test_the_index_cache_counts_sentence_rows() -> None:
    """A scope of long turns holds a row per sentence: the cache's bound counts them, not memories."""
    cache = IndexCache(max_rows=100)
    long_turns = ScopeIndex("o", "long", DIM)
    for i in range(10):
        long_turns.upsert(_doc(f"l{i}"), np.stack([_unit(1, 0, 0, 0)] * 9))  # whole + 8 sentences
    short_turns = ScopeIndex("o", "short", DIM)
    for i in range(10):
        short_turns.upsert(_doc(f"s{i}"), _unit(1, 0, 0, 0))
    assert (long_turns.rows_held, short_turns.rows_held) == (90, 10)
    cache.put(("o", "long"), long_turns)
    cache.put(("o", "short"), short_turns)
    assert cache.get(("o", "long")) is long_turns  # 100 rows: both fit
    cache.put(("o", "short2"), short_turns)  # 110 rows: the least recently used goes
    assert cache.get(("o", "short")) is None and cache.get(("o", "long")) is long_turns


@pytest.mark.vectors
async def test_a_fact_said_in_passing_is_found_by_its_sentence(call, monkeypatch) -> None:
    """A long turn about car insurance mentions a birthday present once. Searched by meaning, it
    ranks higher with its sentence vectors than with the whole turn's vector alone; its stored
    blob holds the whole passage and each sentence."""
    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_vector

    passing = (
        "I need to compare car insurance quotes before my policy renews in March. The premium went up "
        "by 18 percent and I have a clean driving record. Which coverage options are worth keeping? "
        "Oh, and I bought my sister a silver bracelet for her birthday yesterday. Should I raise my "
        "deductible to lower the premium?"
    )
    for text in (
        passing,
        "My sister's birthday party is next month and I'm still looking for a venue.",
        "What are good birthday gift ideas for a sister who loves hiking?",
        "My sister and I went shopping for her birthday dress at the mall.",
        "I'm planning a surprise birthday dinner for my sister next Friday.",
    ):
        assert (await call("add_memory", {"text": text, "infer": False}))["ok"]
    await drain_vectors()
    engine = await memory_engine()
    async with engine.connect() as conn:
        blobs = [(r.dim, len(r.vector)) for r in await conn.execute(select(memory_vector))]
    assert sorted(size // (4 * dim) for dim, size in blobs) == [1, 1, 1, 1, 6]

    args = {"query": "What did I buy my sister for her birthday?", "top_k": 5, "mode": "dense"}

    async def position() -> int:
        hits = [h["text"] for h in (await call("search_memories", args))["results"]]
        return hits.index(passing)

    with_sentences = await position()
    monkeypatch.setattr(ScopeIndex, "rescore", lambda self, positions, whole, q: whole[np.asarray(positions)])
    whole_only = await position()
    assert with_sentences < whole_only, (with_sentences, whole_only)
