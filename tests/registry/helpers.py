"""Shared helpers for the registry tests: fixture launch specs and quick publish/approve."""

from __future__ import annotations

import sys
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
