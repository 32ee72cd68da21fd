"""The Chroma-server path: SWITCHBOARD_CHROMA_URL points at a real `chroma run` on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.settings import reload_settings
from servers.kb_server import sentences, store
from servers.kb_server.search import FusionConfig, search
from servers.kb_server.vectors import embed_all, kb_collection_name
from servers.retrieval import chroma
from servers.retrieval.embedding import get_embedder

ACME = "# 환불 정책\n\n에이크미 환불은 카드 결제 기준 3영업일이 걸립니다. 주말은 영업일에 들어가지 않습니다.\n".encode()
GLOBEX = "# 환불 정책\n\n글로벡스 환불은 계좌이체 기준 7영업일이 걸립니다.\n".encode()


def _chroma_bin() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or "chroma")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, for this module."""
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [_chroma_bin(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def use_server(chroma_server: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SWITCHBOARD_CHROMA_URL", chroma_server)
    reload_settings()
    chroma.reset_clients()
    yield chroma_server
    monkeypatch.delenv("SWITCHBOARD_CHROMA_URL")
    reload_settings()
    chroma.reset_clients()


async def test_hybrid_search_through_a_chroma_server(use_server: str) -> None:
    kbs = {}
    for org, body in (("acme", ACME), ("globex", GLOBEX)):
        kbs[org] = await store.create_kb(org, "정책")
        await store.upload(org, "정책", [store.UploadItem("refund.md", body)])
    assert await embed_all() == 4  # each text: its whole vector, then its sentence vectors
    assert chroma.client_key() == use_server
    names = {c.name for c in chroma.get_client().list_collections()}
    model_id = get_embedder().model_id
    for org, sentence_count in (("acme", 2), ("globex", 0)):
        name = kb_collection_name(org, kbs[org]["id"], model_id)
        assert name in names
        assert chroma.get_client().get_collection(name).count() == 1
        sentence_name = sentences.sentence_collection_name(org, kbs[org]["id"], model_id)
        assert chroma.get_client().get_collection(sentence_name).count() == sentence_count
    hits = await search("acme", "주말도 영업일로 치나요", config=FusionConfig(skip_dense_gap=1.5))
    assert hits and hits[0]["similarity"] is not None
    # scored by whole and best sentence, read back from the server (no vector file yet)
    collection = chroma.get_client().get_collection(kb_collection_name("acme", kbs["acme"]["id"], model_id))
    sha = collection.get()["ids"][0]
    whole = collection.get(ids=[sha], include=["embeddings"])["embeddings"][0]
    rows = sentences.read_store(
        chroma.get_client().get_collection(sentences.sentence_collection_name("acme", kbs["acme"]["id"], model_id)),
        [sha],
    )[sha]
    q = get_embedder().embed_query("주말도 영업일로 치나요")
    expected = (float(np.dot(whole, q)) + float(np.max(rows @ q))) / 2
    assert abs(hits[0]["similarity"] - expected) < 1e-3
    assert all("에이크미" in h["text"] for h in hits)
    assert not (Path(os.environ["SWITCHBOARD_HOME"]) / "chroma").exists()  # nothing went to the embedded store
