"""`switchboard memory import` refuses a record or message id that is personal data, or that holds
a control character, NUL or a path separator, before it writes anything: ids are written as
given to ``FILE.import-state.jsonl`` and the ``--mapping`` file (the database masks them, these
files cannot), as the memory server refuses agent and run ids that are personal data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import SwitchboardError
from servers.memory_server.importer import read_records


def _cli(*args: str) -> tuple[int, str, str]:
    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), ["memory", *args])
    return result.exit_code, result.stdout, result.output


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


GOOD = {"id": "a1", "customer": "C1", "text": "고양이를 키워요"}


def _conversation(message_id: str) -> dict[str, Any]:
    return {
        "id": "conv-2",
        "customer": "C1",
        "messages": [{"id": "m1", "text": "안녕하세요"}, {"id": message_id, "text": "강아지도 키워요"}],
    }


BAD = [
    ({"id": "900101-1234567", "customer": "C1", "text": "고양이"}, "id looks like personal data"),
    ({"id": "hong@example.com", "customer": "C1", "text": "고양이"}, "id looks like personal data"),
    (_conversation("4111111111111111"), "messages.1.id looks like personal data"),
    (_conversation("010-1234-5678"), "messages.1.id looks like personal data"),
    ({"id": "../../etc/passwd", "customer": "C1", "text": "고양이"}, "path separator"),
    ({"id": "a\\b", "customer": "C1", "text": "고양이"}, "path separator"),
    ({"id": "a\x00b", "customer": "C1", "text": "고양이"}, "control character"),
    ({"id": "a\nb", "customer": "C1", "text": "고양이"}, "control character"),
    (_conversation("m\x1b[31m2"), "control character"),
    (_conversation("../m2"), "path separator"),
]


@pytest.mark.parametrize(("bad", "expected"), BAD)
def test_read_records_refuses_the_id_naming_the_line(tmp_path: Path, bad: dict[str, Any], expected: str) -> None:
    path = _write(tmp_path / "in.jsonl", [GOOD, bad])
    with pytest.raises(SwitchboardError) as caught:
        read_records(path, None)
    message = caught.value.message
    assert caught.value.code.value == "INVALID_ARGUMENT"
    assert message.startswith("in.jsonl:2: ") and expected in message and "nothing was imported" in message, message
    for raw in ("900101-1234567", "hong@example.com", "4111111111111111", "010-1234-5678"):
        assert raw not in message  # the error does not repeat the value


@pytest.mark.parametrize("ok", ["conv-1", "D1:3", "ko32-t9", "msg_1", "대화-1", "n 2", "12345"])
def test_ordinary_ids_still_load(tmp_path: Path, ok: str) -> None:
    path = _write(tmp_path / "in.jsonl", [{"id": ok, "customer": "C1", "messages": [{"id": ok, "text": "안녕"}]}])
    assert [r.id for r in read_records(path, None)] == [ok]


@pytest.mark.parametrize(("bad", "expected"), BAD[:4])
def test_cli_import_writes_no_state_nor_mapping_for_a_personal_id(
    database_url: str, tmp_path: Path, bad: dict[str, Any], expected: str
) -> None:
    path = _write(tmp_path / "in.jsonl", [GOOD, bad])
    mapping = tmp_path / "map.json"
    code, stdout, output = _cli("import", str(path), "--org", "acme", "--no-embed", "--json", "--mapping", str(mapping))
    assert code == 2, output
    flat = " ".join(output.split())
    assert "INVALID_ARGUMENT" in flat and "in.jsonl:2" in flat and expected in flat, flat
    assert not (tmp_path / "in.jsonl.import-state.jsonl").exists()
    assert not mapping.exists()
    code, stdout, _ = _cli("status", "--org", "acme", "--json")
    assert code == 0 and json.loads(stdout)["memories"] == 0
