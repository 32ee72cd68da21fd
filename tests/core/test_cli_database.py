"""An unreachable SWITCHBOARD_DATABASE_URL is one UNAVAILABLE line, whatever the command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard_cli import build_app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable(monkeypatch, tmp_path) -> str:
    from core.settings import reload_settings

    url = f"postgresql://sb:s3cret-pw@127.0.0.1:{_closed_port()}/switchboard"
    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
    reload_settings()
    yield url
    monkeypatch.undo()
    reload_settings()


@pytest.mark.parametrize(
    "argv",
    [["orders", "list", "--org", "demo"], ["kb", "list", "--org", "demo"], ["audit", "verify"], ["db", "upgrade"]],
)
def test_a_refused_connection_is_one_line_without_the_password(unreachable, argv):
    """A walk: `orders list` with no PostgreSQL running printed a 537-line traceback."""
    result = runner.invoke(build_app(), argv)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    text = " ".join(result.output.split())
    assert "s3cret-pw" not in result.output
    assert "error [UNAVAILABLE] cannot reach the database in SWITCHBOARD_DATABASE_URL" in text, text
    assert "password hidden" in text and "connection refused" in text and "Traceback" not in text
    assert len(lines) <= 4, result.output  # one line, wrapped at most by the terminal width


def test_the_entry_point_gives_the_same_line(tmp_path):
    env = dict(os.environ, SWITCHBOARD_HOME=str(tmp_path), COLUMNS="300")
    env["SWITCHBOARD_DATABASE_URL"] = f"postgresql://sb:s3cret-pw@127.0.0.1:{_closed_port()}/nosuch"
    done = subprocess.run(
        [sys.executable, "-c", "import switchboard_cli; switchboard_cli.main()", "orders", "list", "--org", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "[UNAVAILABLE]" in done.stderr and "s3cret-pw" not in done.stderr


def test_other_errors_are_not_taken_for_the_database():
    from core.cliutil import database_unreachable_message

    try:
        raise ConnectionRefusedError(111, "refused")  # not raised by a database driver
    except ConnectionRefusedError as err:
        assert database_unreachable_message(err) is None
