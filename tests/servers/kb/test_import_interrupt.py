"""`kb import` of many rows stopped with Ctrl-C: the rows are prepared in a thread, and Ctrl-C
waited for every row of the file (30,000 rows: still preparing 90 s after Ctrl-C, and after
SIGTERM from `timeout`); one idle timer thread was started per prepared row (8,907 threads)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.servers.kb.test_cli import kb, kb_json

ROWS = 1000
SLOW_S = 0.02  # per row: the whole file would take 20 s


def _rows(path: Path, n: int) -> Path:
    lines = (json.dumps({"id": f"r{i}", "text": f"환불 규정 {i}번 안내입니다."}, ensure_ascii=False) for i in range(n))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _timers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]


def test_preparing_many_files_keeps_one_idle_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    from servers.kb_server import worker
    from servers.kb_server.store import UploadItem

    monkeypatch.setattr(worker._worker, "_prepare", lambda item, limits, stop=None: item.filename)
    before = len(_timers())
    items = [UploadItem(f"r{i}.txt", b"x", doc_id=f"r{i}") for i in range(300)]
    assert len(worker.prepare_all(items)) == 300
    deadline = time.monotonic() + 3
    while len(_timers()) > before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_timers()) <= before + 1


def test_ctrl_c_while_rows_are_prepared_stops_at_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servers.kb_server import worker

    calls: list[str] = []

    def slow(item, limits, stop=None):
        calls.append(item.filename)
        time.sleep(SLOW_S)
        return _real(item, limits)

    _real = worker._worker._prepare
    monkeypatch.setattr(worker._worker, "_prepare", slow)
    kb_json("create", "KB", "--org", "acme")
    path = _rows(tmp_path / "rows.jsonl", ROWS)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Timer(3.0, os.kill, args=(os.getpid(), signal.SIGINT))  # to the process, as a terminal
    started = time.monotonic()
    try:
        presser.start()
        code, out = kb("import", "KB", str(path), "--org", "acme")
    finally:
        presser.cancel()
        signal.signal(signal.SIGINT, previous)
    elapsed = time.monotonic() - started
    flat = " ".join(out.split())
    assert code == 130 and "nothing was imported" in flat, (code, flat)
    assert len(calls) < ROWS, "every row was prepared after Ctrl-C"
    assert elapsed < 3.0 + 5.0, elapsed
    assert kb_json("list", "--org", "acme")[0]["version"] == 0
