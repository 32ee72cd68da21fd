"""`switchboard registry` on a newcomer walk: `registry servers` on an empty home created a database,
and `registry export --out` into a missing directory did the work before failing to write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry.helpers import publish_bundled
from tests.registry.test_cli import _run, runner
from tests.registry.test_cli import app as cli_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["registry", "servers"], ["memory", "status"]])
def test_a_read_on_an_empty_home_creates_nothing(tmp_path: Path, monkeypatch, command) -> None:
    """A walk: `registry servers` and `memory status` created a database in an empty home."""
    home = tmp_path / "empty"
    monkeypatch.setenv("SWITCHBOARD_HOME", str(home))
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "switchboard_cli", *command, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "NOT_FOUND"
    assert "no Switchboard data in" in done.stderr and not home.exists()


def test_export_into_a_missing_directory_is_a_clean_error(db, tmp_path: Path) -> None:
    info = _run(publish_bundled("orders"))
    target = tmp_path / "missing" / "server.json"
    result = runner.invoke(cli_app, ["registry", "export", info.ref, "--out", str(target)])
    flat = "".join(result.output.split())
    assert result.exit_code == 2 and "[INVALID_ARGUMENT]" in flat and str(tmp_path / "missing") in flat
    assert not target.parent.exists()
