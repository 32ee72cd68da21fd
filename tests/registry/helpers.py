"""Shared helpers for the registry tests: fixture launch specs and quick publish/approve."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from registry import LaunchSpec, publish_version, review_version

FIXTURES = Path(__file__).parent / "fixtures"


def stdio(script: str, *args: str) -> LaunchSpec:
    """The launch spec of a fixture server script, run by this interpreter."""
    return LaunchSpec.stdio([sys.executable, str(FIXTURES / script), *args])


async def publish_clean(name: str = "orders", version: str = "1.0.0", *, by: str = "alice"):
    """Publish the clean fixture server in-process (no subprocess: fast)."""
    from tests.registry.fixtures.clean_server import build

    return await publish_version(
        name, version, stdio("clean_server.py", version), published_by=by, connect_to=build(version)
    )


async def approve_clean(name: str = "orders", version: str = "1.0.0"):
    """Publish and approve the clean fixture server (every tool ``read`` unless refunds/cancels)."""
    info = await publish_clean(name, version)
    risks = {
        "*": "read",
        **{t.name: "irreversible" for t in info.tools if t.name in ("cancel_order", "request_refund")},
    }
    return await review_version(name, version, approve=True, reason="looks fine", reviewer="rita", risks=risks)


async def insert_kb(org: str, name: str, kb_id: str, versions: int) -> None:
    """KB ``name`` of ``org`` with versions 1..N and content hashes "1"*64, "2"*64, ... (the KB server's rows)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db import get_engine

    now = datetime.now(UTC)
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO knowledge_base (id, org_id, name, description, is_active, current_version, created_at,"
                " updated_at) VALUES (:id, :org, :name, '', true, :n, :now, :now)"
            ),
            {"id": kb_id, "org": org, "name": name, "n": versions, "now": now},
        )
        for version in range(1, versions + 1):
            await conn.execute(
                text(
                    "INSERT INTO kb_version (kb_id, version, org_id, content_sha256, change, summary, n_documents,"
                    " n_chunks, built_at) VALUES (:id, :v, :org, :sha, 'build', '', 1, 1, :now)"
                ),
                {"id": kb_id, "org": org, "v": version, "sha": str(version) * 64, "now": now},
            )


async def publish_bundled(name: str):
    """Capture a bundled Switchboard server in-process, stored with the launch the host uses."""
    from registry.capture import capture_server
    from registry.demo import switchboard_launch
    from registry.publish import publish_capture
    from servers.catalog import build
    from servers.kit import ServerLaunch

    launch = switchboard_launch(name)
    capture = await capture_server(launch, connect_to=build(name, launch=ServerLaunch(org_id="registry"), hooks=[]))
    version = str(capture.server_info["version"])
    return await publish_capture(
        name, version, launch, capture, published_by="tess", description=f"Switchboard {name} server"
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fixture HTTP server exited: {proc.stderr.read().decode()[-500:]}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("fixture HTTP server did not start")


@contextlib.asynccontextmanager
async def fixture_http_server(env: dict[str, str], version: str = "1.0.0") -> AsyncIterator[str]:
    """The clean fixture server over Streamable HTTP with the kit's bearer tokens; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURES / "clean_server.py"), version, "--http", str(port)],
        env={**env, "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
