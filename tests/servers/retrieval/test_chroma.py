"""The Chroma client factory: embedded store under SWITCHBOARD_HOME, model-checked collections."""

from __future__ import annotations

import pytest

from core.errors import SwitchboardError
from core.settings import reload_settings
from servers.retrieval import chroma


@pytest.fixture
def home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path))
    monkeypatch.delenv("SWITCHBOARD_CHROMA_URL", raising=False)
    reload_settings()
    yield tmp_path
    reload_settings()


def test_embedded_client_lives_under_home(home) -> None:
    client = chroma.get_client()
    assert client is chroma.get_client()
    assert chroma.client_key() == f"path:{home / 'chroma'}"
    assert (home / "chroma").is_dir()


def test_collection_names_are_valid_and_distinct() -> None:
    a = chroma.collection_name("kb", "org-a", "kb_1", "model")
    b = chroma.collection_name("kb", "org-b", "kb_1", "model")
    assert a != b and a == chroma.collection_name("kb", "org-a", "kb_1", "model")
    assert 3 <= len(a) <= 63 and a.replace("-", "").isalnum()


def test_vector_collection_refuses_another_model(home) -> None:
    name = chroma.collection_name("t", "x")
    coll = chroma.vector_collection(name, model_id="m1", dim=3)
    coll.upsert(ids=["a"], embeddings=[[1.0, 0.0, 0.0]])
    assert coll.count() == 1
    with pytest.raises(SwitchboardError) as err:
        chroma.vector_collection(name, model_id="m2", dim=3)
    assert err.value.code.value == "CONFLICT"
    assert chroma.drop_collection(name) and not chroma.drop_collection(name)


def test_bad_server_url_is_a_clear_error(home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_CHROMA_URL", "ftp://nowhere")
    reload_settings()
    with pytest.raises(SwitchboardError) as err:
        chroma.get_client()
    assert err.value.code.value == "INVALID_ARGUMENT"
    monkeypatch.setenv("SWITCHBOARD_CHROMA_URL", "http://127.0.0.1:9")
    reload_settings()
    with pytest.raises(SwitchboardError) as err:
        chroma.get_client()
    assert err.value.code.value == "UNAVAILABLE"
