"""Signed checkpoints: ``{org, seq, head_hash, time}`` signed with Ed25519, kept outside the database.

A checkpoint pins what the chain looked like: ``verify`` then detects a truncated tail (the chain
ends before a checkpoint's seq) and a rewritten chain (the record at a checkpoint's seq no longer
has the signed hash), even when whoever changed the database recomputed every hash.

Files: ``<dir>/<org>/<seq>-<kind>-<time>.json``; the dir is ``SWITCHBOARD_AUDIT_CHECKPOINT_DIR``
or ``$SWITCHBOARD_HOME/audit-checkpoints``. Kinds: ``checkpoint`` (``switchboard audit
checkpoint``), ``prune`` (written before a prune), ``export`` (embedded in an export file).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.keys import key_id, public_raw_b64
from audit.record import utc_timestamp
from core.canonical import canonical_json
from core.errors import invalid
from core.settings import get_settings

CHECKPOINT_DIR_ENV = "SWITCHBOARD_AUDIT_CHECKPOINT_DIR"
KINDS = ("checkpoint", "auto", "prune", "export", "export_start")


def checkpoint_dir(override: Path | str | None = None) -> Path:
    """Where checkpoint files are written and read."""
    if override:
        return Path(override)
    env = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(env) if env else get_settings().home / "audit-checkpoints"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What is signed: the org's chain reached ``seq`` with ``head_hash`` at ``time``."""

    org: str
    seq: int
    head_hash: str
    time: str
    kind: str
    key_id: str


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: str  # base64 Ed25519 signature of canonical_json(checkpoint)
    public_key: str  # base64 raw public key (informational: trust comes from the caller's key)

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": asdict(self.checkpoint), "signature": self.signature, "public_key": self.public_key}

    @classmethod
    def from_json(cls, data: Any) -> SignedCheckpoint:
        try:
            cp = data["checkpoint"]
            checkpoint = Checkpoint(
                org=str(cp["org"]),
                seq=int(cp["seq"]),
                head_hash=str(cp["head_hash"]),
                time=str(cp["time"]),
                kind=str(cp["kind"]),
                key_id=str(cp["key_id"]),
            )
            return cls(checkpoint, str(data["signature"]), str(data.get("public_key", "")))
        except (KeyError, TypeError, ValueError):
            raise invalid("not a signed audit checkpoint") from None

    def signed_by(self, public: Ed25519PublicKey) -> bool:
        """True when the signature is valid for ``public``."""
        try:
            public.verify(base64.b64decode(self.signature), canonical_json(asdict(self.checkpoint)))
        except (InvalidSignature, ValueError):
            return False
        return True

    def check(self, trusted: list[Ed25519PublicKey]) -> bool | None:
        """True: signed by a trusted key; False: a trusted key id but a bad signature; None: unknown key."""
        for public in trusted:
            if key_id(public) == self.checkpoint.key_id:
                return self.signed_by(public)
        return None


def sign(org: str, seq: int, head_hash: str, kind: str, private: Ed25519PrivateKey) -> SignedCheckpoint:
    """Sign the chain state ``(org, seq, head_hash)`` now."""
    if kind not in KINDS:
        raise invalid(f"checkpoint kind must be one of {', '.join(KINDS)}")
    public = private.public_key()
    checkpoint = Checkpoint(org, seq, head_hash, utc_timestamp(), kind, key_id(public))
    signature = base64.b64encode(private.sign(canonical_json(asdict(checkpoint)))).decode()
    return SignedCheckpoint(checkpoint, signature, public_raw_b64(public))


def checkpoint_file_name(signed: SignedCheckpoint) -> str:
    cp = signed.checkpoint
    stamp = cp.time.replace(":", "").replace("-", "").replace(".", "")
    return f"{cp.seq:012d}-{cp.kind}-{stamp}.json"


def write_checkpoint(signed: SignedCheckpoint, directory: Path | str | None = None) -> Path:
    """Write ``signed`` durably (temp file, fsync, rename, fsync dir); returns its path."""
    cp = signed.checkpoint
    folder = checkpoint_dir(directory) / cp.org
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checkpoint_file_name(signed)
    tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(signed.to_json(), handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_checkpoints(org: str, directory: Path | str | None = None) -> list[tuple[Path, SignedCheckpoint | None]]:
    """Every checkpoint file of ``org`` (None for a file that does not parse), by seq."""
    folder = checkpoint_dir(directory) / org
    if not folder.is_dir():
        return []
    out: list[tuple[Path, SignedCheckpoint | None]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            signed = SignedCheckpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, Exception):
            signed = None
        out.append((path, signed))
    return out
