"""Scenario pack files a reviewer was sent: `eval list` promises every problem at once, but the
first unreadable file (a deep JSON, a UTF-16 save, a FIFO) ended the check; a 300 MB scenario
file was read whole (676 MB resident) before anything was said."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from host.evals.pack import BUNDLED, MAX_SCENARIO_FILE_BYTES, load_pack


def _pack(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(BUNDLED / "ko-callcenter", pack)
    return pack


def test_every_unreadable_file_is_named_in_one_run(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    scenarios = pack / "scenarios"
    (scenarios / "90-deep.json").write_text("[" * 10_000 + "]" * 10_000, encoding="utf-8")
    (scenarios / "91-utf16.json").write_bytes('{"id": "x"}'.encode("utf-16"))
    os.mkfifo(scenarios / "92-fifo.json")
    with pytest.raises(SwitchboardError) as caught:
        load_pack(pack)
    message = caught.value.message
    assert "3 problem(s)" in message, message
    assert "90-deep.json" in message and "nests too deeply" in message
    assert "91-utf16.json" in message and "not UTF-8" in message
    assert "92-fifo.json" in message and "not a regular file" in message


def test_a_scenario_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    big = pack / "scenarios" / "91-big.json"
    with big.open("wb") as handle:  # sparse: the size is what counts
        handle.truncate(MAX_SCENARIO_FILE_BYTES + 1)
    with pytest.raises(SwitchboardError) as caught:
        load_pack(pack)
    assert "91-big.json is larger than" in caught.value.message, caught.value.message
    assert len(load_pack(BUNDLED / "ko-callcenter").scenarios) > 10  # the bundled files are well under it
