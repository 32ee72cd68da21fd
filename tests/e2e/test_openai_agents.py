"""openai-agents (a third-party MCP client, its own venv under tests/) against cold servers.

Issue 18: with its default 5 s ``client_session_timeout_seconds`` openai-agents' MCPServerStdio
failed ``tools/list timed out`` on 3 of 6 cold starts while the servers loaded their models.
Now the models load after the handshake: 10 of 10 cold starts must list the tools.
The client venv comes from scripts/test-deps.sh (``SWITCHBOARD_TEST_OPENAI_AGENTS_PY``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AGENTS_PY = os.environ.get("SWITCHBOARD_TEST_OPENAI_AGENTS_PY")
SB = str(Path(sys.executable).with_name("switchboard"))
SCRIPT = Path(__file__).with_name("openai_agents_client.py")
pytestmark = pytest.mark.skipif(
    not AGENTS_PY or not Path(AGENTS_PY).exists(),
    reason="openai-agents venv missing: `source scripts/test-deps.sh` creates tests/.openai-agents",
)


def test_ten_cold_starts_with_default_settings_all_list_tools(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update({"SWITCHBOARD_HOME": str(tmp_path / "home"), "ANONYMIZED_TELEMETRY": "False"})
    plan = [("kb", 4), ("memory", 3), ("orders", 3)]  # the two model-loading servers most often
    runs = []
    for server, n in plan:
        extra = ["--customer", "C-1001"] if server == "memory" else []
        proc = subprocess.run(
            [AGENTS_PY, str(SCRIPT), "cold", str(n), "--", SB, "serve", server, "--org", "demo", *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = json.loads(proc.stdout)
        runs += [{"server": server, **r} for r in out["runs"]]
    failed = [r for r in runs if not r["ok"]]
    assert not failed, failed
    assert len(runs) == 10
    assert all(r["tools"] >= 4 for r in runs), runs
