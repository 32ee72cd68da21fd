"""A vector per sentence of a KB chunk: what is embedded, where it is stored, how search scores
with it, the upgrade of a KB embedded without them, and switching them off."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from servers.kb_server import sentences, store
from servers.kb_server.densefile import dense_files, load, paths
from servers.kb_server.indexes import version_index
from servers.kb_server.search import FusionConfig, collections, completeness, search
from servers.kb_server.vectors import embed_all, kb_collection, pending_total, progress_counts
from servers.retrieval.embedding import get_embedder

NEVER_SKIP = FusionConfig(skip_dense_gap=1.5)  # always query the dense side

# A long chunk about car insurance renewal that mentions, in passing, the roaming discount, and a
# short chunk about roaming that never says "discount" ("할인"). The question asks about the
# discount: one vector of the long chunk is about insurance; its sentence about roaming is not.
LONG = (
    "## 자동차 보험 갱신\n\n"
    "자동차 보험은 만기 30일 전부터 갱신할 수 있습니다. 갱신 때는 차량 번호와 운전자 범위를 다시 확인합니다. "
    "무사고 기간이 3년을 넘으면 보험료가 평균 8% 내려갑니다. 블랙박스 특약은 사진을 올리면 바로 적용됩니다. "
    "보험을 갱신한 고객은 해외 로밍 요금을 첫 달 50% 할인받습니다. 갱신 확인서는 이메일로 보내 드립니다."
)
SHORT = "## 해외 로밍\n\n해외 로밍 요금제는 하루 11,000원에 데이터를 무제한으로 씁니다."
FILLER = tuple(
    f"## 안내 {n}\n\n{topic} 관련 문의는 고객센터 앱의 1:1 상담에서 받습니다."
    for n, topic in enumerate(("배터리 교체", "멤버십 포인트", "번호 이동", "콜백 예약", "요금 납부"))
)
QUESTION = "로밍 요금 할인 받을 수 있는 조건이 있나요"


def _doc() -> bytes:
    return ("# 고객 안내\n\n" + "\n\n".join((LONG, SHORT, *FILLER)) + "\n").encode()


async def _file_written(kb_id: str, version: int):
    """The version's vector-file metadata path, once the export that a dense search starts wrote it."""
    meta = paths(kb_id, version, get_embedder().model_id)[1]
    for _ in range(200):
        if meta.is_file():
            break
        await asyncio.sleep(0.05)
    return meta


def _forget() -> None:
    for cache in (collections, completeness, dense_files):
        cache.clear()


async def _kb(org: str = "acme") -> dict:
    kb = await store.create_kb(org, "안내")
    await store.upload(org, "안내", [store.UploadItem("faq.md", _doc())])
    return kb


def test_sentence_texts_carry_the_heading_and_never_lose_text() -> None:
    assert sentences.sentence_texts("안내 · 로밍", "해외 로밍 요금제는 하루 11,000원입니다.") == []
    two = sentences.sentence_texts("안내", "환불은 3영업일이 걸립니다. 주말은 빼고 셉니다.")
    assert two == ["안내\n환불은 3영업일이 걸립니다.", "안내\n주말은 빼고 셉니다."]
    # ASR-like text without punctuation: kiwi still finds the two requests
    asr = sentences.sentence_texts("", "환불 언제 되는지 알려주세요 그리고 주소도 바꾸고 싶어요")
    assert len(asr) == 2 and all(not t.startswith("\n") for t in asr)
    many = " ".join(f"Rule {n} applies to refunds." for n in range(40))
    grouped = sentences.sentence_texts("Policy", many)
    assert sentences.MAX_SENTENCES // 2 < len(grouped) <= sentences.MAX_SENTENCES
    assert " ".join(t.removeprefix("Policy\n") for t in grouped) == many  # every sentence kept, in order


async def test_sentence_vectors_are_stored_beside_the_chunk_and_recorded(database_url: str) -> None:
    kb = await _kb()
    embedder = get_embedder()
    model = embedder.model_id
    version = (await store.get_kb("acme", "안내"))["current_version"]
    n_texts = 1 + 1 + len(FILLER)
    assert await pending_total(org_id="acme", model_id=model) == 2 * n_texts  # whole + sentences, each text
    # every whole vector comes before any sentence vector
    assert await embed_all(org_id="acme", limit=n_texts) == n_texts
    assert await progress_counts("acme", kb["id"], version, model, only=model) == (n_texts, n_texts)
    assert await progress_counts("acme", kb["id"], version, model) == (0, n_texts)
    assert await embed_all(org_id="acme") == n_texts
    assert await progress_counts("acme", kb["id"], version, model) == (n_texts, n_texts)
    collection = sentences.collection_of("acme", kb["id"], model, embedder.dim)
    got = collection.get(include=["metadatas", "embeddings"])
    index = await version_index("acme", kb["id"], version)
    by_sha: dict[str, list[str]] = {}
    for record_id, meta in zip(got["ids"], got["metadatas"], strict=True):
        assert record_id.startswith(meta["sha"] + ":")
        by_sha.setdefault(meta["sha"], []).append(record_id)
    assert len(by_sha) == 1, "only the long chunk has several sentences"
    long_sha = next(iter(by_sha))
    assert len(by_sha[long_sha]) == 6 and long_sha in index.sha_to_chunks
    norms = np.linalg.norm(np.asarray(got["embeddings"]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    # another org's KB of the same text: its own collection
    other = await _kb("globex")
    await embed_all(org_id="globex")
    theirs = sentences.collection_of("globex", other["id"], model, embedder.dim)
    assert theirs.name != collection.name and theirs.count() == 6


async def test_a_fact_said_in_passing_ranks_higher_with_sentence_vectors(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = await _kb()
    await embed_all(org_id="acme")
    version = (await store.get_kb("acme", "안내"))["current_version"]

    def rank_of_long(hits: list[dict]) -> int:
        return next(n for n, h in enumerate(hits) if "보험을 갱신한 고객은" in h["text"])

    with_sentences = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    monkeypatch.setenv("SWITCHBOARD_KB_SENTENCE_VECTORS", "0")
    _forget()
    whole_only = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    assert rank_of_long(with_sentences) == 0
    assert rank_of_long(whole_only) > 0, "the whole-chunk vector alone already found it: the test proves nothing"
    # the score is the mean of the whole cosine and the best sentence cosine, computed apart here
    embedder = get_embedder()
    q = embedder.embed_query(QUESTION)
    index = await version_index("acme", kb["id"], version)
    chunk_id = with_sentences[0]["chunk_id"]
    sha = index.chunk_to_sha[chunk_id]
    got = kb_collection("acme", kb["id"], embedder).get(ids=[sha], include=["embeddings"])
    whole = np.asarray(got["embeddings"][0])
    rows = sentences.read_store(sentences.collection_of("acme", kb["id"], embedder.model_id, embedder.dim), [sha])[sha]
    expected = (float(whole @ q) + float(np.max(rows @ q))) / 2
    assert abs(with_sentences[0]["similarity"] - expected) < 1e-3
    assert abs(whole_only[rank_of_long(whole_only)]["similarity"] - float(whole @ q)) < 1e-3


async def test_the_vector_file_holds_the_sentences_and_answers_like_chroma(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = await _kb()
    await embed_all(org_id="acme")
    version = (await store.get_kb("acme", "안내"))["current_version"]
    by_chroma = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    await _file_written(kb["id"], version)
    index = await version_index("acme", kb["id"], version)
    matrix = load(index, get_embedder().model_id)
    assert matrix is not None and matrix.sentence_rows is not None and len(matrix.sentence_rows) == 6
    _forget()

    def no_chroma(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma was opened although the version's file answers")

    monkeypatch.setattr("servers.kb_server.search.get_client", no_chroma)
    monkeypatch.setattr("servers.retrieval.chroma.get_client", no_chroma)
    by_file = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    assert [h["chunk_id"] for h in by_file] == [h["chunk_id"] for h in by_chroma]
    for a, b in zip(by_file, by_chroma, strict=True):
        assert (a["similarity"] is None) == (b["similarity"] is None)
        assert a["similarity"] is None or abs(a["similarity"] - b["similarity"]) < 1e-3


async def test_a_kb_embedded_before_sentence_vectors_is_upgraded_in_place(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store embedded by an older release (whole vectors only, and a vector file without
    sentences) keeps its dense search while the sentence pass runs, then scores by sentences."""
    kb = await _kb()
    monkeypatch.setenv("SWITCHBOARD_KB_SENTENCE_VECTORS", "0")
    assert await embed_all(org_id="acme") == 7  # the old behaviour: whole vectors only
    version = (await store.get_kb("acme", "안내"))["current_version"]
    old = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    meta = await _file_written(kb["id"], version)
    assert meta.is_file()

    monkeypatch.setenv("SWITCHBOARD_KB_SENTENCE_VECTORS", "1")
    _forget()
    model = get_embedder().model_id
    assert await pending_total(org_id="acme", model_id=model) == 7  # the sentence pass only
    during = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    assert [h["chunk_id"] for h in during] == [h["chunk_id"] for h in old]  # whole vectors still answer
    index = await version_index("acme", kb["id"], version)
    assert load(index, model) is None  # the old file does not serve: it has no sentences
    assert await embed_all(org_id="acme") == 7
    _forget()
    after = await search("acme", QUESTION, top_k=7, config=NEVER_SKIP)
    assert "보험을 갱신한 고객은" in after[0]["text"]


async def test_switched_off_nothing_is_stored_and_search_uses_whole_vectors(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_KB_SENTENCE_VECTORS", "0")
    kb = await _kb()
    model = get_embedder().model_id
    assert await pending_total(org_id="acme", model_id=model) == 7
    assert await embed_all(org_id="acme") == 7
    version = (await store.get_kb("acme", "안내"))["current_version"]
    assert await progress_counts("acme", kb["id"], version, model) == (7, 7)
    from servers.retrieval.chroma import get_client

    names = {c.name for c in get_client().list_collections()}
    assert sentences.sentence_collection_name("acme", kb["id"], model) not in names
    hits = await search("acme", QUESTION, top_k=3, config=NEVER_SKIP)
    assert hits and hits[0]["similarity"] is not None


def test_kb_show_and_embed_tell_the_two_passes_apart(database_url: str, tmp_path) -> None:
    from typer.testing import CliRunner

    from servers.kb_server.cli import app

    runner = CliRunner()
    (tmp_path / "faq.md").write_bytes(_doc())
    assert runner.invoke(app, ["create", "안내", "--org", "acme"]).exit_code == 0
    assert runner.invoke(app, ["upload", "안내", str(tmp_path / "faq.md"), "--org", "acme"]).exit_code == 0
    embedded = runner.invoke(app, ["embed", "--org", "acme", "--limit", "8", "--json"])
    assert embedded.exit_code == 0 and '"embedded": 8' in embedded.output  # 7 whole steps, then 1 sentence step
    shown = runner.invoke(app, ["show", "안내", "--org", "acme", "--json"])
    emb = json.loads(shown.output)["embedding"]
    assert (emb["embedded"], emb["whole_embedded"], emb["sentences_embedded"], emb["total"]) == (1, 7, 1, 7)
    assert emb["pending_all_versions"] == 6
    text = runner.invoke(app, ["show", "안내", "--org", "acme"]).output
    assert "whole passages 7/7, sentences 1/7" in " ".join(text.split())
