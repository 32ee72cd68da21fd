"""The audit log's keys. They live outside the database, so a copy of the database alone can
neither reverse the value HMACs nor forge a checkpoint.

- Per-org HMAC keys: ``SWITCHBOARD_AUDIT_HMAC_KEY`` (a secret of 32+ characters; each org's key
  is derived from it), else ``<keys dir>/audit-hmac/<org>.key`` (32 random bytes, created on
  first use, mode 0600).
- The checkpoint signing key (Ed25519): ``SWITCHBOARD_AUDIT_SIGNING_KEY`` (PEM, or base64 of the
  32-byte seed), else ``<keys dir>/audit-signing-ed25519.pem`` (created on first checkpoint,
  mode 0600) with its public half beside it (``.pub``) for auditors.

The keys dir is ``SWITCHBOARD_AUDIT_KEYS_DIR`` or ``$SWITCHBOARD_HOME/keys``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.context import is_valid_identifier
from core.errors import invalid, unavailable
from core.settings import get_settings

HMAC_ENV = "SWITCHBOARD_AUDIT_HMAC_KEY"
SIGNING_ENV = "SWITCHBOARD_AUDIT_SIGNING_KEY"
KEYS_DIR_ENV = "SWITCHBOARD_AUDIT_KEYS_DIR"
SIGNING_FILE = "audit-signing-ed25519.pem"

_hmac_cache: dict[tuple[str, str], bytes] = {}
_lock = threading.Lock()


def keys_dir() -> Path:
    """Where key files live (not in the database)."""
    override = os.environ.get(KEYS_DIR_ENV)
    return Path(override) if override else get_settings().home / "keys"


def _write_once(path: Path, data: bytes) -> bytes:
    """Create ``path`` (mode 0600) unless another process won the race; return its content."""
    for folder in (keys_dir(), path.parent):
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic: fails if the key already exists
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path.read_bytes()


def hmac_key(org_id: str, *, create: bool = True) -> bytes | None:
    """The org's HMAC key; created on first use unless ``create`` is False (then None if absent)."""
    if not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    secret = os.environ.get(HMAC_ENV)
    if secret:
        if len(secret) < 32:
            raise invalid(f"{HMAC_ENV} must be at least 32 characters")
        return hmac.new(secret.encode(), f"switchboard/audit-hmac/v1/{org_id}".encode(), hashlib.sha256).digest()
    cache_key = (os.environ.get(KEYS_DIR_ENV) or str(get_settings().home), org_id)
    cached = _hmac_cache.get(cache_key)
    if cached is not None:
        return cached
    path = keys_dir() / "audit-hmac" / f"{org_id}.key"
    with _lock:
        try:
            if path.exists():
                raw = path.read_bytes()
            elif create:
                raw = _write_once(path, secrets.token_hex(32).encode() + b"\n")
            else:
                return None
        except OSError as err:
            raise unavailable(f"cannot read or create the audit HMAC key under {path.parent}: {err.strerror}") from None
        try:
            key = bytes.fromhex(raw.decode().strip())
        except (UnicodeDecodeError, ValueError):
            raise unavailable(f"the audit HMAC key file {path} is corrupt") from None
        if len(key) < 16:
            raise unavailable(f"the audit HMAC key file {path} is too short")
        _hmac_cache[cache_key] = key
        return key


def _private_from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise invalid("the audit signing key must be an Ed25519 key")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{SIGNING_ENV} must be a PEM key or the base64 of a 32-byte Ed25519 seed") from None
    if len(seed) != 32:
        raise invalid(f"{SIGNING_ENV} must decode to 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key(*, create: bool = True) -> Ed25519PrivateKey | None:
    """The checkpoint signing key (created on first use unless ``create`` is False)."""
    env = os.environ.get(SIGNING_ENV)
    if env:
        return _private_from_text(env)
    path = keys_dir() / SIGNING_FILE
    try:
        if not path.exists():
            if not create:
                return None
            fresh = Ed25519PrivateKey.generate()
            pem = fresh.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_once(path, pem)
        key = _private_from_text(path.read_text())
        pub_path = path.with_suffix(".pub")
        if not pub_path.exists():
            _write_once(pub_path, public_pem(key.public_key()).encode())
        return key
    except OSError as err:
        raise unavailable(f"cannot read or create the audit signing key {path}: {err.strerror}") from None


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_raw_b64(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key (first 16 hex of sha256 of its raw bytes)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(data: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM text or the base64 of its 32 raw bytes."""
    text = data.decode() if isinstance(data, bytes) else data
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            if "PRIVATE KEY" in text:
                return _private_from_text(text).public_key()
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error):
        raise invalid("not an Ed25519 public key (PEM or base64 of 32 bytes)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise invalid("the public key must be an Ed25519 key")
    return key


def local_public_key() -> Ed25519PublicKey | None:
    """The public half of the configured signing key, or the ``.pub`` file; None if neither exists."""
    key = signing_key(create=False)
    if key is not None:
        return key.public_key()
    pub_path = (keys_dir() / SIGNING_FILE).with_suffix(".pub")
    return load_public_key(pub_path.read_text()) if pub_path.exists() else None
