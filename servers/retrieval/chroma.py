"""The chromadb client: embedded (``PersistentClient`` under ``SWITCHBOARD_HOME/chroma``) by default,
a Chroma server (``HttpClient``) when ``SWITCHBOARD_CHROMA_URL`` is set (e.g. ``http://127.0.0.1:8000``).

Telemetry is always off and no embedding function is ever attached: callers pass vectors they
computed (chromadb's default embedding function downloads a model and fails offline).

Organise collections so queries never need a low-selectivity ``where`` filter (50-200 ms at 50k
chunks): e.g. one collection per (tenant, knowledge base, embedding model). :func:`collection_name`
makes a valid, fixed-length name from any parts; :func:`vector_collection` creates/opens a cosine
collection and records the embedding model id and dimension in its metadata, refusing a mismatch.

The embedded client is single-process: several processes that share one store need server mode.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any
from urllib.parse import urlparse

from core.errors import conflict, invalid, unavailable
from core.settings import get_settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _settings() -> Any:
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def client_key() -> str:
    """Which store the current settings point at (``http://...`` or ``path:/...``)."""
    settings = get_settings()
    if settings.chroma_url:
        return settings.chroma_url.rstrip("/")
    return f"path:{settings.home / 'chroma'}"


def get_client() -> Any:
    """The chromadb client for the configured store (created once per store and process)."""
    key = client_key()
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        import chromadb

        if key.startswith("path:"):
            path = key[len("path:") :]
            os.makedirs(path, exist_ok=True)
            client = chromadb.PersistentClient(path=path, settings=_settings())
        else:
            url = urlparse(key)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise invalid("SWITCHBOARD_CHROMA_URL must look like http://host:port")
            try:
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=_settings(),
                )
            except Exception as exc:  # connection refused etc.
                raise unavailable(f"cannot reach the Chroma server at {key}: is it running?") from exc
        _clients[key] = client
        return client


def is_open() -> bool:
    """Whether this process already has the client of the configured store (no import, no I/O)."""
    with _lock:
        return client_key() in _clients


def reset_clients() -> None:
    """Forget cached clients (tests switch stores between cases)."""
    with _lock:
        _clients.clear()


def collection_name(*parts: str, prefix: str = "sb") -> str:
    """A valid Chroma collection name derived from ``parts`` (stable, 3-63 safe characters)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]
    return f"{prefix}-{digest}"


def vector_collection(name: str, *, model_id: str, dim: int, extra: dict[str, Any] | None = None) -> Any:
    """Open or create the cosine collection ``name`` for vectors of ``model_id`` (``dim``-d)."""
    client = get_client()
    metadata = {"model_id": model_id, "dim": int(dim), **(extra or {})}
    collection = client.get_or_create_collection(
        name=name,
        embedding_function=None,
        metadata=metadata,
        configuration={"hnsw": {"space": "cosine"}},
    )
    found = collection.metadata or {}
    if found.get("model_id") != model_id or int(found.get("dim", dim)) != int(dim):
        raise conflict(f"collection {name} holds vectors of {found.get('model_id')}, not {model_id}")
    return collection


def drop_collection(name: str) -> bool:
    """Delete collection ``name``; False when it did not exist."""
    try:
        get_client().delete_collection(name)
    except Exception:  # chromadb raises different types for "missing"
        return False
    return True
