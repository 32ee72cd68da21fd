"""Data-subject keys: the audit payloads of one person are sealed with a key of their own.

A data subject is ``(org, customer)`` for a customer's calls and ``(org, None)`` for agent-scope
and system records. Destroying a subject's key (``switchboard customer erase``) makes every
payload sealed with it unreadable everywhere at once: in the database, its backups and its
exports (crypto-shredding). The chain still verifies: ``record_hash`` covers the ciphertext.

Where keys live (never in the database):

- default: one file per subject under ``<keys dir>/audit-subjects/<org>/`` (32 random bytes as
  hex, mode 0600, in a 0700 folder; a customer's file is named by the sha256 of its id, so the
  folder does not list customer ids). Destroying overwrites the file with zeros, fsyncs and
  unlinks it.
- ``SWITCHBOARD_AUDIT_KEY_PROVIDER=module:attr``: a deployment's own store (a KMS, Vault...).
  ``attr`` is a provider object or a zero-argument factory returning one, with
  ``get_key(org_id, customer_ref, create) -> bytes | None``, ``destroy_key(org_id, customer_ref)
  -> bool`` and optionally ``list_keys(org_id) -> list[bytes]`` (for ``find --value`` without
  ``--customer``).

Any failure to obtain a key raises UNAVAILABLE: the append fails and the audited call is not
made. There is no plaintext fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.keys import hmac_key, keys_dir
from core.context import is_valid_identifier
from core.errors import SwitchboardError, invalid, unavailable

PROVIDER_ENV = "SWITCHBOARD_AUDIT_KEY_PROVIDER"
_VALUE_HMAC_LABEL = b"switchboard/audit-value-hmac/v1"


class KeyProvider(Protocol):
    def get_key(self, org_id: str, customer_ref: str | None, create: bool) -> bytes | None: ...

    def destroy_key(self, org_id: str, customer_ref: str | None) -> bool: ...


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """A subject's sealing key, ready to use."""

    aead: AESGCM
    value_hmac_key: bytes
    kid: str  # first 8 hex of sha256(key): tells a destroyed former key from a damaged ciphertext


def subject_label(org_id: str, customer_ref: str | None) -> str:
    return org_id if customer_ref is None else f"{org_id}/{customer_ref}"


def _file_name(customer_ref: str | None) -> str:
    if customer_ref is None:
        return "_org.key"
    return hashlib.sha256(customer_ref.encode("utf-8")).hexdigest()[:40] + ".key"


class FileKeyStore:
    """Subject keys as files under the keys dir (the default provider)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _path(self, org_id: str, customer_ref: str | None) -> Path:
        return keys_dir() / "audit-subjects" / org_id / _file_name(customer_ref)

    def get_key(self, org_id: str, customer_ref: str | None, create: bool) -> bytes | None:
        from audit.keys import _write_once

        path = self._path(org_id, customer_ref)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            with self._lock:
                path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                raw = _write_once(path, secrets.token_hex(32).encode() + b"\n")
        return bytes.fromhex(raw.decode().strip())

    def destroy_key(self, org_id: str, customer_ref: str | None) -> bool:
        path = self._path(org_id, customer_ref)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        fd = os.open(path, os.O_WRONLY)
        try:  # overwrite before unlinking (best effort on copy-on-write or journaling file systems)
            os.write(fd, b"\0" * size)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True

    def list_keys(self, org_id: str) -> list[bytes]:
        folder = keys_dir() / "audit-subjects" / org_id
        if not folder.is_dir():
            return []
        keys = []
        for path in sorted(folder.glob("*.key")):
            try:
                keys.append(bytes.fromhex(path.read_text().strip()))
            except (OSError, ValueError):
                continue
        return keys

    def exists(self, org_id: str, customer_ref: str | None) -> bool:
        return self._path(org_id, customer_ref).exists()


_file_store = FileKeyStore()
_provider_cache: list[Any] = [None, None]  # [spec, provider]
_cache: dict[tuple[str, str, str | None], Any] = {}


def provider() -> Any:
    """The configured key provider (the file store unless ``SWITCHBOARD_AUDIT_KEY_PROVIDER`` is set)."""
    spec = os.environ.get(PROVIDER_ENV, "").strip()
    if not spec:
        return _file_store
    if _provider_cache[0] == spec:
        return _provider_cache[1]
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise unavailable(f"{PROVIDER_ENV} must be module:attribute (e.g. mykms.audit:provider)")
    try:
        target = getattr(importlib.import_module(module_name), attr)
        found = target() if callable(target) and not hasattr(target, "get_key") else target
    except Exception as exc:
        raise unavailable(f"the audit key provider {spec} cannot be loaded ({type(exc).__name__})") from None
    if not hasattr(found, "get_key") or not hasattr(found, "destroy_key"):
        raise unavailable(f"the audit key provider {spec} lacks get_key/destroy_key")
    _provider_cache[:] = [spec, found]
    return found


def _check(org_id: str) -> None:
    if not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")


def subject_key(org_id: str, customer_ref: str | None, *, create: bool = True) -> SubjectKey | None:
    """The subject's key (created on first use unless ``create`` is False; then None if absent).

    File keys are cached per process and re-checked on every use (one ``stat``), so a key
    destroyed by another process is never used again here.
    """
    store = provider()
    if store is _file_store:
        cache_key = (_keys_dir_text(), org_id, customer_ref)
        cached = _cache.get(cache_key)
        if cached is not None:
            if os.path.exists(cached.path):  # destroyed by another process? (one stat)
                return cached.key
            _cache.pop(cache_key, None)
    _check(org_id)
    try:
        raw = store.get_key(org_id, customer_ref, create)
    except SwitchboardError:
        raise
    except Exception as exc:
        raise unavailable(
            f"the audit key of {subject_label(org_id, customer_ref)} cannot be loaded ({type(exc).__name__}); "
            "nothing was recorded"
        ) from None
    if raw is None:
        if create:
            raise unavailable("the audit key provider returned no key; nothing was recorded")
        return None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
        raise unavailable("the audit key provider must return 32-byte keys; nothing was recorded")
    raw = bytes(raw)
    key = SubjectKey(AESGCM(raw), _value_hmac_key(org_id, customer_ref, raw), hashlib.sha256(raw).hexdigest()[:8])
    if store is _file_store:
        _cache[(_keys_dir_text(), org_id, customer_ref)] = _Cached(key, str(store._path(org_id, customer_ref)))
    return key


@dataclass(frozen=True, slots=True)
class _Cached:
    key: SubjectKey
    path: str


_dir_memo: list[Any] = [None, None, ""]  # [settings object, env override, keys dir text]


def _keys_dir_text() -> str:
    """``str(keys_dir())`` without building paths on every append."""
    from core.settings import get_settings

    settings, override = get_settings(), os.environ.get("SWITCHBOARD_AUDIT_KEYS_DIR")
    if _dir_memo[0] is not settings or _dir_memo[1] != override:
        _dir_memo[:] = [settings, override, str(keys_dir())]
    return _dir_memo[2]


def _value_hmac_key(org_id: str, customer_ref: str | None, raw: bytes) -> bytes:
    """The key of the searchable value HMACs: the org's key for org records, derived per customer."""
    if customer_ref is None:
        return hmac_key(org_id) or b""
    return hmac.new(raw, _VALUE_HMAC_LABEL, hashlib.sha256).digest()


def destroy_subject_key(org_id: str, customer_ref: str) -> bool:
    """Destroy a customer's key (True when a key existed). Never used for the org key."""
    _check(org_id)
    if not customer_ref:
        raise invalid("give the customer whose audit key to destroy")
    try:
        existed = bool(provider().destroy_key(org_id, customer_ref))
    except SwitchboardError:
        raise
    except Exception as exc:
        raise unavailable(f"the audit key provider could not destroy the key ({type(exc).__name__})") from None
    for cache_key in [k for k in _cache if k[1] == org_id and k[2] == customer_ref]:
        _cache.pop(cache_key, None)
    return existed


def value_hmac_keys(org_id: str, customer_ref: str | None = None) -> list[bytes]:
    """The HMAC keys to search a value with: one customer's, or the org's and every customer's."""
    if customer_ref is not None:
        key = subject_key(org_id, customer_ref, create=False)
        return [key.value_hmac_key] if key else []
    keys = [k for k in [hmac_key(org_id, create=False)] if k]
    store = provider()
    lister = getattr(store, "list_keys", None)
    if lister is None:
        raise invalid("this key provider cannot list keys: search a personal value with --customer")
    org_raw = store.get_key(org_id, None, False)
    for raw in lister(org_id):
        if raw != org_raw:
            keys.append(hmac.new(raw, _VALUE_HMAC_LABEL, hashlib.sha256).digest())
    return keys
