"""`audit export -o` on a full disk: a walk's `--decrypt` export left 49 KB of readable payloads
behind after an OSError traceback. The export is written to a temporary file and renamed when
complete; a failure deletes it and is one UNAVAILABLE line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit import append
from audit.cli import app

from .helpers import event
from .test_cli import run_async

pytestmark = pytest.mark.usefixtures("audit_db")


class _FullDisk:
    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, text: str) -> int:
        if len(text) > self._room:
            self._handle.write(text[: self._room])
            self._handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(text)
        return self._handle.write(text)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


async def _records(n: int = 20) -> None:
    for i in range(n):
        await append(event(i, "acme"))


def test_decrypted_export_on_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.atomicwrite

    run_async(_records)
    monkeypatch.setattr(core.atomicwrite, "_fdopen", lambda fd, *a, **k: _FullDisk(os.fdopen(fd, *a, **k), 2000))
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "ae.jsonl"
    result = CliRunner().invoke(app, ["export", "--org", "acme", "--decrypt", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "UNAVAILABLE" in result.output and "no space left on device" in result.output, result.output
    assert not result.exception or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in out.parent.iterdir()) == []


def test_a_whole_export_is_renamed_into_place(tmp_path: Path) -> None:
    run_async(_records)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "ae.jsonl"
    result = CliRunner().invoke(app, ["export", "--org", "acme", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["ae.jsonl"]
    assert len(out.read_text(encoding="utf-8").splitlines()) > 20
