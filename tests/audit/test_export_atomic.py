"""`audit export -o` on a full disk: a walk's `--decrypt` export left 49 KB of readable payloads
behind after an OSError traceback. The export is written to a temporary file and renamed when
complete; a failure deletes it and is one UNAVAILABLE line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit import append
from audit.cli import app
from tests.core.test_hostile_inputs import _FullDisk

from .helpers import event
from .test_cli import run_async

pytestmark = pytest.mark.usefixtures("audit_db")


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
