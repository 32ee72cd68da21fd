"""A complete version's vectors on disk: the same answers as Chroma, without opening Chroma."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from core.settings import get_settings
from servers.kb_server import store
from servers.kb_server.densefile import DenseMatrix, all_exported, dense_files, load, paths, save
from servers.kb_server.indexes import version_index
from servers.kb_server.search import FusionConfig, collections, completeness, search
from servers.kb_server.vectors import embed_all
from servers.retrieval.embedding import get_embedder

NEVER_SKIP = FusionConfig(skip_dense_gap=1.5)  # always query the dense side
_TOPICS = (
    "## 해외 로밍\n\n해외 로밍 요금제는 하루 11,000원에 데이터를 무제한으로 씁니다.",
    "## 배터리 교체\n\n갤럭시 배터리 교체 비용은 서비스센터에서 59,000원입니다.",
    "## 멤버십 포인트\n\n멤버십 포인트는 결제 금액의 1%가 적립됩니다. 적립된 포인트는 1년 뒤 소멸합니다.",
    "## 번호 이동\n\n번호 이동은 신분증을 지참하고 대리점을 방문하면 당일 개통됩니다.",
    "## 콜백 예약\n\n콜백 예약은 평일 오전 9시부터 오후 6시까지 받으며 주말에는 다음 영업일에 연락드립니다.",
)
QUERIES = (
    "abroad internet usage price",
    "주말에도 전화 다시 받을 수 있나요",
    "포인트 언제 없어져요",
    "갤럭시 배터리 교체 비용",
)


async def _complete_kb() -> tuple[str, int]:
    kb = await store.create_kb("acme", "안내")
    text = "# 고객 안내\n\n" + "\n\n".join(_TOPICS) + "\n\n" + "\n\n".join(_TOPICS[:2]) + "\n"  # repeated texts too
    result = await store.upload("acme", "안내", [store.UploadItem("faq.md", text.encode())])
    await embed_all(org_id="acme")
    return kb["id"], result.version


async def _wait_for_file(kb_id: str, version: int) -> None:
    meta = paths(kb_id, version, get_embedder().model_id)[1]
    for _ in range(200):
        if meta.is_file():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the version's vector file was never written")


def _ranked(hits: list[dict]) -> list[tuple[str, float | None]]:
    return [(h["chunk_id"], h["similarity"]) for h in hits]


def _forget() -> None:
    for cache in (collections, completeness, dense_files):
        cache.clear()


async def test_the_file_answers_exactly_as_chroma_did(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kb_id, version = await _complete_kb()
    by_chroma = {q: await search("acme", q, config=NEVER_SKIP) for q in QUERIES}
    assert all(h["similarity"] is not None for hits in by_chroma.values() for h in hits[:1])
    await _wait_for_file(kb_id, version)  # exported after the first dense search

    _forget()

    def no_chroma(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma was opened although the version's file answers")

    monkeypatch.setattr("servers.kb_server.search.get_client", no_chroma)
    monkeypatch.setattr("servers.retrieval.chroma.get_client", no_chroma)
    for query, expected in by_chroma.items():
        got = await search("acme", query, config=NEVER_SKIP)
        assert [cid for cid, _ in _ranked(got)] == [cid for cid, _ in _ranked(expected)], query
        for (_, a), (_, b) in zip(_ranked(got), _ranked(expected), strict=True):
            assert (a is None) == (b is None) and (a is None or abs(a - b) < 1e-3), query
    assert all_exported(get_settings().home, get_embedder().model_id)


async def test_a_damaged_or_foreign_file_is_ignored(database_url: str) -> None:
    kb_id, version = await _complete_kb()
    expected = await search("acme", QUERIES[0], config=NEVER_SKIP)
    await _wait_for_file(kb_id, version)
    npy, meta, sentence_npy = paths(kb_id, version, get_embedder().model_id)
    index = await version_index("acme", kb_id, version)
    model = get_embedder().model_id
    assert load(index, model) is not None

    body = json.loads(meta.read_text())
    meta.write_text(json.dumps({**body, "shas": body["shas"][:-1]}))  # rows of other texts
    assert load(index, model) is None
    meta.write_text(json.dumps({**body, "model_id": "openai:other"}))  # another model's vectors
    assert load(index, model) is None
    meta.write_text(json.dumps({**body, "offsets": [0, *body["offsets"]]}))  # sentence rows misassigned
    assert load(index, model) is None
    meta.write_text(json.dumps({**body, "sentence_format": None}))  # written with sentence vectors off
    assert load(index, model) is None
    meta.write_text(json.dumps(body))
    rows = sentence_npy.read_bytes()
    sentence_npy.write_bytes(b"not a matrix")
    assert load(index, model) is None
    sentence_npy.write_bytes(rows)
    assert load(index, model) is not None
    npy.write_bytes(b"not a matrix")
    assert load(index, model) is None

    _forget()
    got = await search("acme", QUERIES[0], config=NEVER_SKIP)  # Chroma answers, and re-exports
    assert _ranked(got) == _ranked(expected)
    for _ in range(200):
        if load(index, model) is not None:
            break
        await asyncio.sleep(0.05)
    assert load(index, model) is not None


async def test_a_half_embedded_version_writes_no_file(database_url: str) -> None:
    kb = await store.create_kb("acme", "안내")
    result = await store.upload("acme", "안내", [store.UploadItem("faq.md", ("\n\n".join(_TOPICS)).encode())])
    await embed_all(org_id="acme", limit=2)
    await search("acme", QUERIES[0], config=NEVER_SKIP)
    await asyncio.sleep(0.3)
    assert not paths(kb["id"], result.version, get_embedder().model_id)[1].exists()
    assert not all_exported(get_settings().home, get_embedder().model_id)


async def test_save_refuses_a_matrix_that_is_not_the_versions(database_url: str) -> None:
    kb_id, version = await _complete_kb()
    index = await version_index("acme", kb_id, version)
    shas = sorted(index.sha_to_chunks)
    dim = get_embedder().dim
    assert not save(index, "m", shas[:-1], np.ones((len(shas) - 1, dim), dtype=np.float32))
    assert not save(index, "m", shas, np.ones((len(shas) + 1, dim), dtype=np.float32))
    ones = np.ones((len(shas), dim), dtype=np.float32)
    assert save(index, "m", shas, ones, {shas[0]: np.ones((2, dim), dtype=np.float32)})
    loaded = load(index, "m")
    assert loaded is not None and load(index, "m2") is None
    whole, parts = loaded.vectors([shas[0], shas[1], "not-in-version"])
    assert set(whole) == {shas[0], shas[1]} and set(parts) == {shas[0]} and parts[shas[0]].shape == (2, dim)
    assert save(index, "m", shas, ones)  # without sentence rows: it does not serve while they are on
    assert load(index, "m") is None


def test_top_is_the_exact_cosine_order_and_breaks_ties_by_row() -> None:
    from servers.kb_server.indexes import VersionIndex

    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(300, 16)).astype(np.float32)
    matrix[5] = matrix[9]  # a tie
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    shas = tuple(f"s{i:03d}" for i in range(300))
    index = VersionIndex("o", "k", 1, bm25=None, sha_to_chunks={s: [f"c{s}"] for s in shas})  # type: ignore[arg-type]
    dense = DenseMatrix(shas, matrix)
    for _ in range(5):
        q = rng.normal(size=16).astype(np.float32)
        q /= np.linalg.norm(q)
        scores = matrix @ q
        expected = sorted(range(300), key=lambda i: (-scores[i], i))[:12]
        assert [cid for cid, _ in dense.top(q, index, 12)] == [f"c{shas[i]}" for i in expected]
    q = matrix[5]
    top = dense.top(q, index, 2)
    assert [cid for cid, _ in top] == ["cs005", "cs009"] and abs(top[0][1] - 1.0) < 1e-5


async def test_a_large_version_goes_back_to_chroma_once_chroma_is_open(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the row limit the file only bridges the start: once Chroma is open its HNSW index
    answers (scoring 50,000 rows takes ~6 ms, HNSW ~2 ms)."""
    from servers.kb_server import densefile

    kb_id, version = await _complete_kb()
    await search("acme", QUERIES[0], config=NEVER_SKIP)
    await _wait_for_file(kb_id, version)
    home, model = get_settings().home, get_embedder().model_id
    assert all_exported(home, model)
    monkeypatch.setenv("SWITCHBOARD_KB_DENSE_FILE_MAX_ROWS", "2")  # this version counts as large
    assert not all_exported(home, model), "the warm-up must open Chroma for a large version"
    index = await version_index("acme", kb_id, version)
    matrix = load(index, model)
    assert matrix is not None
    assert densefile.serves(matrix, store_open=False) and not densefile.serves(matrix, store_open=True)

    used: list[str] = []
    top = DenseMatrix.top
    monkeypatch.setattr(DenseMatrix, "top", lambda self, *a: used.append("file") or top(self, *a))
    _forget()
    monkeypatch.setattr("servers.kb_server.search.chroma_is_open", lambda: False)
    await search("acme", QUERIES[1], config=NEVER_SKIP)
    assert used == ["file"]
    monkeypatch.setattr("servers.kb_server.search.chroma_is_open", lambda: True)
    hits = await search("acme", QUERIES[2], config=NEVER_SKIP)
    assert used == ["file"] and hits[0]["similarity"] is not None  # Chroma answered
