"""Keys live outside the database: per-org HMAC keys and the checkpoint signing key."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from audit.keys import HMAC_ENV, SIGNING_ENV, hmac_key, key_id, keys_dir, local_public_key, signing_key
from core.errors import SwitchboardError
from core.settings import reload_settings


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "home"))
    for name in (HMAC_ENV, SIGNING_ENV, "SWITCHBOARD_AUDIT_KEYS_DIR"):
        monkeypatch.delenv(name, raising=False)
    reload_settings()
    yield tmp_path / "home"
    reload_settings()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_hmac_keys_are_per_org_private_files(home):
    acme, beta = hmac_key("acme"), hmac_key("beta")
    assert len(acme) == 32 and acme != beta and hmac_key("acme") == acme
    path = keys_dir() / "audit-hmac" / "acme.key"
    assert _mode(path) == 0o600 and _mode(keys_dir()) == 0o700 and _mode(path.parent) == 0o700
    assert hmac_key("gamma", create=False) is None
    with pytest.raises(SwitchboardError):
        hmac_key("../../etc/passwd")


def test_hmac_key_from_the_environment(home, monkeypatch):
    monkeypatch.setenv(HMAC_ENV, "s" * 40)
    assert hmac_key("acme") != hmac_key("beta") and len(hmac_key("acme")) == 32
    assert not (home / "keys").exists()
    monkeypatch.setenv(HMAC_ENV, "short")
    with pytest.raises(SwitchboardError):
        hmac_key("acme")


def test_signing_key_file_and_env(home, monkeypatch):
    assert signing_key(create=False) is None and local_public_key() is None
    key = signing_key()
    pem = keys_dir() / "audit-signing-ed25519.pem"
    assert _mode(pem) == 0o600 and pem.with_suffix(".pub").is_file()
    assert key_id(local_public_key()) == key_id(key.public_key())
    seed = Ed25519PrivateKey.generate()
    raw = seed.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    monkeypatch.setenv(SIGNING_ENV, base64.b64encode(raw).decode())
    assert key_id(signing_key().public_key()) == key_id(seed.public_key())
    monkeypatch.setenv(SIGNING_ENV, "not a key")
    with pytest.raises(SwitchboardError):
        signing_key()


async def test_no_key_material_reaches_the_database(audit_db):
    from audit import append, close
    from audit.maintenance import create_checkpoint
    from core.db import get_engine, is_sqlite

    from .helpers import event, sql

    await append(event(1))
    await create_checkpoint("acme")
    secrets = [hmac_key("acme").hex(), base64.b64encode(signing_key().private_bytes_raw()).decode()]
    engine = await get_engine()
    if is_sqlite(engine):
        await close()
        db = Path(engine.url.database)
        blob = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    else:
        rows = await sql("SELECT row_to_json(t)::text FROM audit_event t")
        blob = "".join(r[0] for r in rows).encode()
    for secret in secrets:
        assert secret.encode() not in blob
