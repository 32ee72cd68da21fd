"""`kb import` row checks: a field of the wrong type is named as such, not as missing (JSONL, CSV, parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from servers.kb_server import rows
from servers.kb_server.rows import read_rows
from tests.servers.kb.test_cli import kb, kb_json


def _jsonl(path: Path, *lines: dict) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def _message(path: Path) -> str:
    with pytest.raises(SwitchboardError) as caught:
        read_rows(path)
    return caught.value.message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"id": "a", "text": 123}, "a.jsonl:1: `text` must be a string, not a number"),
        ({"id": "a", "text": ["환불은", "7일"]}, "a.jsonl:1: `text` must be a string, not a list"),
        ({"id": "a", "text": True}, "a.jsonl:1: `text` must be a string, not true/false"),
        ({"id": "a"}, "a.jsonl:1: `text` is missing"),
        ({"id": "a", "text": None}, "a.jsonl:1: `text` is missing"),
        ({"id": "a", "text": "  "}, "a.jsonl:1: `text` is empty"),
        ({"id": "a", "text": "x", "title": 5}, "a.jsonl:1: `title` must be a string, not a number"),
        ({"id": 1.5, "text": "x"}, "a.jsonl:1: `id` must be a string or a whole number, not a number"),
        ({"id": True, "text": "x"}, "a.jsonl:1: `id` must be a string or a whole number, not true/false"),
        ({"id": {"n": 1}, "text": "x"}, "a.jsonl:1: `id` must be a string or a whole number, not an object"),
        ({"id": " ", "text": "x"}, "a.jsonl:1: `id` is empty"),
        ({"text": "x"}, "a.jsonl:1: `id` is missing"),
    ],
)
def test_jsonl_fields_of_the_wrong_type_are_named(tmp_path: Path, row: dict, expected: str) -> None:
    assert _message(_jsonl(tmp_path / "a.jsonl", row)) == expected


def test_csv_says_missing_or_empty_consistently(tmp_path: Path) -> None:
    no_column = tmp_path / "no_text.csv"
    no_column.write_text("id,title\nr1,환불\n", encoding="utf-8")
    assert _message(no_column) == "no_text.csv:2: `text` is missing"
    blank = tmp_path / "blank.csv"
    blank.write_text("id,text\nr1,\n", encoding="utf-8")
    assert _message(blank) == "blank.csv:2: `text` is empty"
    short = tmp_path / "short.csv"
    short.write_text("id,text\nr1\n", encoding="utf-8")  # a row with fewer cells than the header
    assert _message(short) == "short.csv:2: `text` is missing"
    ok = tmp_path / "ok.csv"
    ok.write_text("id,text\n7,환불은 7일\n", encoding="utf-8")
    assert [i.doc_id for i in read_rows(ok)] == ["7"]


def test_parquet_values_get_the_same_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.parquet"
    path.write_bytes(b"PAR1")
    values = iter([[{"id": 1, "text": b"bytes"}], [{"id": 2.0, "text": "x"}], [{"id": 3, "text": "환불"}]])
    monkeypatch.setattr(rows, "_rows", lambda _path: enumerate(next(values), start=1))
    assert _message(path) == "p.parquet:1: `text` must be a string, not bytes"
    assert _message(path) == "p.parquet:1: `id` must be a string or a whole number, not a number"
    assert [i.doc_id for i in read_rows(path)] == ["3"]


def test_cli_import_of_a_number_text_says_it_must_be_a_string(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "KB", "--org", "acme")
    code, out = kb("import", "KB", str(_jsonl(tmp_path / "t.jsonl", {"id": "a", "text": 123})), "--org", "acme")
    flat = " ".join(out.split())
    assert code == 2 and "t.jsonl:1: `text` must be a string, not a number" in flat and "missing" not in flat
    empty = tmp_path / "e.jsonl"
    empty.write_text("", encoding="utf-8")
    code, out = kb("import", "KB", str(empty), "--org", "acme")
    assert code == 2 and "e.jsonl: no rows" in out
    assert kb_json("list", "--org", "acme")[0]["version"] == 0


def test_csv_header_twice_in_a_row_or_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    """Two exports joined with `cat` imported the second header as a document (id 'id', text
    'text'); a column named twice kept the last one's cell without a word."""
    joined = tmp_path / "joined.csv"
    joined.write_text("id,text\nh1,환불 안내\nid,text\nh2,배송 안내\n", encoding="utf-8")
    message = _message(joined)
    assert message.startswith("joined.csv:3: ") and "repeats the header" in message, message
    twice = tmp_path / "twice.csv"
    twice.write_text("id,text,text\nr1,환불은 7일,환불은 3일\n", encoding="utf-8")
    message = _message(twice)
    assert message.startswith("twice.csv:1: ") and "'text'" in message and "twice" in message, message


def test_csv_lines_are_counted_in_the_file_not_in_rows(tmp_path: Path) -> None:
    """A quoted cell over three lines moved every later row's line number (Excel's Alt+Enter)."""
    path = tmp_path / "cells.csv"
    path.write_text('id,text\nr1,"환불은\n영업일\n3일"\nr2,\n', encoding="utf-8")
    assert _message(path) == "cells.csv:5: `text` is empty"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 660 MB JSONL under a 1.5 GB address-space limit ended in a MemoryError traceback: the
    whole file was read and decoded before the first row was checked."""
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:  # sparse: the size is what counts
        handle.truncate(rows.MAX_FILE_BYTES + 1)
    message = _message(path)
    assert message.startswith("huge.jsonl: ") and "MiB" in message and "split" in message, message
