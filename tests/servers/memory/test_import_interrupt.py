"""Ctrl-C while `memory import` checks its file stops it at once, and says nothing was imported.

A walk: LongMemEval's 940 sessions (10,866 turns) take about a minute to check; a Ctrl-C in that
minute was held back until the check ended (the check ran inside the event loop, where asyncio
turns the first SIGINT into a cancellation delivered at the next await) and then the import went on
to fail or to start writing."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


def test_ctrl_c_while_checking_stops_at_once_and_writes_nothing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servers.memory_server import importer

    real = importer.screen_records

    def slow_screen(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # the operator presses Ctrl-C while the file is checked
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the rest of a long check
            time.sleep(0.01)
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "screen_records", slow_screen)
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "n1", "customer": "C1", "text": "반려견 이름은 초코"}) + "\n", encoding="utf-8")
    from switchboard_cli import build_app

    # a terminal's Ctrl-C: the default handler (an earlier in-process test may have left another)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        started = time.monotonic()
        result = CliRunner().invoke(build_app(), ["memory", "import", str(path), "--org", "acme", "--no-embed"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 15, "the Ctrl-C waited for the check to end (30 s)"
    assert result.exit_code == 130, result.output
    out = " ".join(result.output.split())
    assert "nothing was imported" in out and "in.jsonl" in out
    assert not (tmp_path / "in.jsonl.import-state.jsonl").exists()
