"""Background embedding: lexical search at once, vectors later, resumable after a crash (kill -9)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastmcp import Client
from sqlalchemy import func, select

from core.db import get_engine
from servers.kb_server import store
from servers.kb_server.app import build_server
from servers.kb_server.models import kb_vector
from servers.kb_server.search import search
from servers.kb_server.vectors import embed_all, kb_collection, pending_total, progress_counts
from servers.kit import ServerLaunch
from servers.retrieval.embedding import get_embedder

ROOT = Path(__file__).resolve().parents[3]


def _doc(n: int) -> bytes:
    paras = "\n\n".join(
        f"## 항목 {i}\n\n{i}번 안내: 상품 {i}의 환불은 {i % 5 + 1}영업일 안에 처리됩니다." for i in range(n)
    )
    return f"# 안내 모음\n\n{paras}\n".encode()


async def _vector_rows() -> int:
    engine = await get_engine()
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(kb_vector))).scalar_one()


class FlakyEmbedder:
    """The real embedder, failing (like a crash) after ``ok`` batches."""

    def __init__(self, ok: int) -> None:
        self.inner = get_embedder()
        self.model_id, self.dim, self.ok = self.inner.model_id, self.inner.dim, ok

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if self.ok == 0:
            raise RuntimeError("simulated crash")
        self.ok -= 1
        return self.inner.embed_passages(texts)


async def test_lexical_first_then_resumable_embedding(database_url: str) -> None:
    kb = await store.create_kb("acme", "안내")
    result = await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(6))])
    hits = await search("acme", "상품 3 환불")
    assert hits and hits[0]["similarity"] is None  # keyword search works before any vector exists
    model = get_embedder().model_id
    assert await progress_counts("acme", kb["id"], result.version, model) == (0, 6)

    with pytest.raises(RuntimeError):
        await embed_all(org_id="acme", embedder=FlakyEmbedder(ok=2), batch_size=2)
    assert await progress_counts("acme", kb["id"], result.version, model, only=model) == (4, 6)  # two batches kept
    assert await progress_counts("acme", kb["id"], result.version, model) == (0, 6)  # no sentence pass yet

    # resumes with the rest only: 2 whole passages, then the 6 passages' sentence pass
    assert await embed_all(org_id="acme", batch_size=2) == 2 + 6
    assert await progress_counts("acme", kb["id"], result.version, model) == (6, 6)
    assert await embed_all(org_id="acme") == 0
    assert kb_collection("acme", kb["id"], get_embedder()).count() == 6
    assert await _vector_rows() == 12  # whole and sentence progress of each text


async def test_identical_passages_are_embedded_once_and_updates_reuse_vectors(database_url: str) -> None:
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(3))])
    assert await embed_all(org_id="acme") == 3 * 2  # a whole step and a sentence step per passage
    changed = _doc(3).replace("0번 안내".encode(), "0번 변경 안내".encode())
    await store.upload("acme", "안내", [store.UploadItem("faq.md", changed)])
    assert await pending_total(org_id="acme", model_id=get_embedder().model_id) == 2  # only the edited passage
    assert await embed_all(org_id="acme") == 2


async def test_kill_9_during_embed_resumes(sb_env: dict[str, str]) -> None:
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(16))])
    env = {**os.environ, **sb_env, "SWITCHBOARD_KB_EMBED_BATCH": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from switchboard_cli import main; main()", "kb", "embed", "--org", "acme", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while await _vector_rows() < 2 and proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done_at_kill = await _vector_rows()
    assert 2 <= done_at_kill < 32, "the embedder was not interrupted mid-way"  # 16 whole + 16 sentence steps
    model = get_embedder().model_id
    assert await pending_total(org_id="acme", model_id=model) == 32 - done_at_kill
    assert await embed_all(org_id="acme") == 32 - done_at_kill
    assert await _vector_rows() == 32
    kb = await store.get_kb("acme", "안내")
    assert kb_collection("acme", kb["id"], get_embedder()).count() == 16


async def test_server_embeds_in_the_background(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_KB_BACKGROUND_EMBED", "1")
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(2))])
    server = build_server(launch=ServerLaunch(org_id="acme"), hooks=[])
    async with Client(server) as client:
        ready = 0.0
        deadline = time.monotonic() + 120
        while ready < 1.0 and time.monotonic() < deadline:
            listed = await client.call_tool_mcp("list_knowledge_bases", {})
            ready = listed.structured_content["knowledge_bases"][0]["dense_ready"]
            await asyncio.sleep(0.2)
        assert ready == 1.0
        result = await client.call_tool_mcp("search", {"query": "상품 1 환불"})
        assert result.structured_content["hits"][0]["similarity"] is not None


class BrokenQueryEmbedder(FlakyEmbedder):
    """The real model id, but the embedding API is down."""

    def embed_query(self, text: str) -> np.ndarray:
        raise RuntimeError("embedding API down")


async def test_search_falls_back_to_keywords_when_the_embedder_fails(database_url: str) -> None:
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(3))])
    await embed_all(org_id="acme")
    hits = await search("acme", "상품 2 환불 새질문", embedder=BrokenQueryEmbedder(ok=0))
    assert hits and all(h["similarity"] is None for h in hits)
    assert (await search("acme", "상품 2 환불 새질문"))[0]["similarity"] is not None


class CountingEmbedder(FlakyEmbedder):
    """The real embedder, counting query embeddings."""

    def __init__(self) -> None:
        super().__init__(ok=1_000)
        self.queries = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)


_TOPICS = (
    "## 해외 로밍\n\n해외 로밍 요금제는 하루 11,000원에 데이터를 무제한으로 씁니다.",
    "## 배터리 교체\n\n갤럭시 배터리 교체 비용은 서비스센터에서 59,000원입니다.",
    "## 멤버십 포인트\n\n멤버십 포인트는 결제 금액의 1%가 적립되고 1년 뒤 소멸합니다.",
    "## 번호 이동\n\n번호 이동은 신분증을 지참하고 대리점을 방문하면 당일 개통됩니다.",
)


async def test_a_decisive_keyword_match_skips_the_embedding(database_url: str) -> None:
    from servers.kb_server.search import FusionConfig

    await store.create_kb("acme", "안내")
    text = "# 고객 안내\n\n" + "\n\n".join(_TOPICS) + "\n"
    await store.upload("acme", "안내", [store.UploadItem("faq.md", text.encode())])
    await embed_all(org_id="acme")
    counting = CountingEmbedder()
    hits = await search("acme", "갤럭시 배터리 교체 비용", embedder=counting)
    assert "배터리" in hits[0]["text"] and hits[0]["similarity"] is None
    assert counting.queries == 0, "a decisive BM25 winner must not pay for the query embedding"
    # no shared words with the documents: the dense side is needed and used
    hits = await search("acme", "abroad internet usage price", embedder=counting)
    assert counting.queries == 1 and hits[0]["similarity"] is not None
    # skipping can be turned off
    never_skip = FusionConfig(skip_dense_gap=1.5)
    hits = await search("acme", "갤럭시 배터리 교체 비용", embedder=counting, config=never_skip)
    assert counting.queries == 2 and "배터리" in hits[0]["text"] and hits[0]["similarity"] is not None


class PassageCounter(FlakyEmbedder):
    """The real embedder, counting the passages it embeds."""

    def __init__(self) -> None:
        super().__init__(ok=1_000)
        self.passages = 0

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return super().embed_passages(texts)


async def test_a_half_embedded_version_is_searched_by_keywords_only(database_url: str) -> None:
    """Answers must not depend on how far the background embedder got: the passages that already
    have vectors would otherwise outrank the rest."""
    from servers.kb_server.search import FusionConfig, completeness

    never_skip = FusionConfig(skip_dense_gap=1.5)
    await store.create_kb("acme", "안내")
    await store.upload("acme", "안내", [store.UploadItem("faq.md", _doc(6))])
    await embed_all(org_id="acme", limit=3)
    counting = CountingEmbedder()
    hits = await search("acme", "상품 4의 환불 기간", embedder=counting, config=never_skip)
    assert hits and all(h["similarity"] is None for h in hits) and counting.queries == 0
    await embed_all(org_id="acme")
    completeness.clear()  # the "not yet" answer is remembered for a few seconds
    hits = await search("acme", "상품 4의 환불 기간", embedder=counting, config=never_skip)
    assert counting.queries == 1 and hits[0]["similarity"] is not None


async def test_the_same_text_in_another_org_is_not_embedded_twice(database_url: str) -> None:
    from servers.kb_server.vectors import recent_vectors

    recent_vectors.clear()
    counter = PassageCounter()
    for org in ("acme", "globex"):
        await store.create_kb(org, "안내")
        await store.upload(org, "안내", [store.UploadItem("faq.md", _doc(4))])
    # one-sentence passages: the sentence step records them without embedding anything
    assert await embed_all(org_id="acme", embedder=counter) == 8 and counter.passages == 4
    assert await embed_all(org_id="globex", embedder=counter) == 8 and counter.passages == 4
    acme = kb_collection("acme", (await store.get_kb("acme", "안내"))["id"], counter)
    globex = kb_collection("globex", (await store.get_kb("globex", "안내"))["id"], counter)
    assert globex.count() == 4  # stored in globex's own collection
    one = acme.get(ids=acme.get()["ids"][:1], include=["embeddings"])
    other = globex.get(ids=one["ids"], include=["embeddings"])
    assert np.allclose(one["embeddings"][0], other["embeddings"][0])


class BatchRecorder(FlakyEmbedder):
    """The real embedder, recording the size of each model call."""

    def __init__(self) -> None:
        super().__init__(ok=1_000)
        self.calls: list[int] = []

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().embed_passages(texts)


async def test_new_texts_are_embedded_a_batch_at_a_time_and_held_ones_stored_at_once(database_url: str) -> None:
    """Model work stays in batches of ``batch_size`` (what a crash can lose); texts whose vectors the
    process already holds (the same KB uploaded to another org) cost no model call and are stored
    in one step, not one step per batch."""
    from servers.kb_server.vectors import recent_vectors

    recent_vectors.clear()
    for org in ("acme", "globex"):
        await store.create_kb(org, "안내")
        await store.upload(org, "안내", [store.UploadItem("faq.md", _doc(10))])
    recorder, steps = BatchRecorder(), []
    assert await embed_all(org_id="acme", embedder=recorder, batch_size=3, progress=steps.append) == 20
    assert recorder.calls and max(recorder.calls) <= 3 and sum(recorder.calls) == 10
    recorder.calls.clear()
    steps.clear()
    assert await embed_all(org_id="globex", embedder=recorder, batch_size=3, progress=steps.append) == 20
    assert recorder.calls == [] and steps == [10, 10]  # whole vectors, then the (empty) sentence step
