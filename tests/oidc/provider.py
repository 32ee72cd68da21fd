"""Start the test OpenID provider (provider.mjs, npm ``oidc-provider`` on Node 22) and get tokens from it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers.orders.support import ROOT, node22

SCRIPT = Path(__file__).resolve().parent / "provider.mjs"
OIDC_DIR = Path(os.environ.get("SWITCHBOARD_TEST_OIDC_DIR") or ROOT / "tests" / ".oidc")


@contextmanager
def running_provider(log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A running provider on an ephemeral loopback port; yields its issuer URL. ``env``: its
    settings (OIDC_HOST, OIDC_CONSOLE_REDIRECT_URIS, ...; see provider.mjs)."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is not installed: run `source scripts/test-deps.sh` (installs it into tests/.oidc)")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [node22(), str(SCRIPT)],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "OIDC_PROVIDER_DIR": str(OIDC_DIR), **(env or {})},
            cwd=SCRIPT.parent,
        )
        try:
            line = proc.stdout.readline() if proc.stdout else b""
            if not line:
                raise AssertionError(f"oidc-provider did not start: {log.read_text()[-2000:]}")
            yield json.loads(line)["issuer"]
        finally:
            proc.terminate()
            proc.wait(timeout=15)


async def client_token(issuer: str, client: str, resource: str, scope: str = "orders:read") -> str:
    """An access token by client credentials (RFC 6749 §4.4) for ``resource``."""
    import httpx2

    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(client, f"{client}-secret"),
        )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
