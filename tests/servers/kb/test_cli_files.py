"""Files the kb CLI reads (a newcomer walk): CP949 rows and query files are read like `kb upload`
reads CP949 documents (they raised UnicodeDecodeError), a folder given to `kb import` says so and
points to `kb upload`, and an empty query file is an error, not a silent exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from servers.kb_server.rows import read_rows
from servers.retrieval.queryfile import read_queries
from tests.servers.kb.test_cli import kb, kb_json

ROWS_CSV = 'id,title,text\nr1,환불 안내,"환불은 영업일 기준 3일, 카드사 사정에 따라 더 걸릴 수 있습니다."\n'
ROWS_JSONL = json.dumps(
    {"id": "r1", "title": "환불 안내", "text": "환불은 영업일 기준 3일 걸립니다."}, ensure_ascii=False
)


def _cp949(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("cp949"))
    return path


def test_cp949_rows_are_read_as_korean(tmp_path: Path) -> None:
    (csv_item,) = read_rows(_cp949(tmp_path / "rows.csv", ROWS_CSV))
    assert csv_item.title == "환불 안내" and "카드사 사정" in csv_item.data.decode("utf-8")
    (jsonl_item,) = read_rows(_cp949(tmp_path / "rows.jsonl", ROWS_JSONL + "\n"))
    assert jsonl_item.title == "환불 안내" and "영업일" in jsonl_item.data.decode("utf-8")
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes(ROWS_CSV.encode("utf-16"))  # Excel's "Unicode text" has a BOM
    assert read_rows(utf16)[0].title == "환불 안내"


def test_rows_that_are_not_text_are_refused_in_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "rows.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SwitchboardError) as caught:
        read_rows(binary)
    assert caught.value.code.value == "INVALID_ARGUMENT" and "rows.csv: not" in caught.value.message


def test_cli_imports_a_cp949_csv_and_refuses_a_folder(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "faq", "--org", "acme")
    done = kb_json("import", "faq", str(_cp949(tmp_path / "rows.csv", ROWS_CSV)), "--org", "acme")
    assert done["version"] == 1 and done["created"] == 1
    assert kb_json("show", "faq", "--org", "acme")["documents"][0]["title"] == "환불 안내"
    folder = tmp_path / "docs"
    folder.mkdir()
    code, out = kb("import", "faq", str(folder), "--org", "acme")
    flat = " ".join(out.split())
    assert code == 2 and "INVALID_ARGUMENT" in flat and "is a directory" in flat and "no such file" not in flat
    assert "kb upload" in flat
    assert kb_json("show", "faq", "--org", "acme")["version"] == 1  # nothing written


def test_query_files_in_cp949_are_read_and_an_empty_one_is_an_error(tmp_path: Path) -> None:
    line = json.dumps({"id": "q1", "query": "환불은 언제 되나요?"}, ensure_ascii=False)
    (query,) = read_queries(_cp949(tmp_path / "q.jsonl", line + "\n"), 5)
    assert query["query"] == "환불은 언제 되나요?"
    for text in (b"", b"\n \n"):
        empty = tmp_path / "empty.jsonl"
        empty.write_bytes(text)
        with pytest.raises(SwitchboardError) as caught:
            read_queries(empty, 5)
        assert "empty.jsonl: no queries" in caught.value.message
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x00\xd8" * 10)
    with pytest.raises(SwitchboardError) as caught:
        read_queries(binary, 5)
    assert "bin.jsonl: not" in caught.value.message


def test_cli_search_file_cp949_and_empty(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "faq", "--org", "acme")
    kb_json("import", "faq", str(_cp949(tmp_path / "rows.csv", ROWS_CSV)), "--org", "acme")
    line = json.dumps({"id": "q1", "query": "환불 며칠"}, ensure_ascii=False)
    code, out = kb("search", "--file", str(_cp949(tmp_path / "q.jsonl", line + "\n")), "--org", "acme")
    assert code == 0, out
    assert json.loads(out.splitlines()[0])["results"][0]["doc_id"] == "r1"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, out = kb("search", "--file", str(empty), "--org", "acme")
    assert code == 2 and "INVALID_ARGUMENT" in out and "no queries" in " ".join(out.split())
