"""The state file beside a `memory import` input is read and appended to: a link planted there
(in.jsonl.import-state.jsonl -> /dev/zero) was read until MemoryError (1.2 GB, a traceback), and
a link to another file got the import's progress lines appended to that file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

RECORD = {"id": "n1", "customer": "C1", "text": "반려견 이름은 초코예요"}


def _cli(*args: str) -> tuple[int, str]:
    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), ["memory", *args])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("target", ["/dev/zero", "victim.txt", "fifo"])
def test_a_state_file_that_is_a_link_or_not_a_file_is_refused(database_url: str, tmp_path: Path, target: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(RECORD, ensure_ascii=False) + "\n", encoding="utf-8")
    state = tmp_path / "in.jsonl.import-state.jsonl"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n", encoding="utf-8")
    if target == "fifo":
        os.mkfifo(state)
    else:
        state.symlink_to(target if target.startswith("/") else victim)
    code, out = _cli("import", str(source), "--org", "acme", "--no-embed")
    assert code == 2 and "in.jsonl.import-state.jsonl" in out and "nothing was imported" in out, out
    assert victim.read_text(encoding="utf-8") == "keep\n"
    code, out = _cli("list", "--org", "acme", "--customer", "C1", "--json")
    assert "초코" not in out
