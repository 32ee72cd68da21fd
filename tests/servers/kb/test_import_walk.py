"""`kb import` walked with foreign data: every row id is a document, and a row the text checks
refuse is named by its line, not by a file name the importer made up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.kb.test_cli import kb, kb_json

SAME = "배송은 보통 2-3일 걸립니다. 도서산간 지역은 하루 이틀 더 걸립니다."


def _jsonl(path: Path, *lines: dict) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def _doc_ids(kb_name: str) -> list[str]:
    return sorted(d["doc_id"] for d in kb_json("show", kb_name, "--org", "acme")["documents"])


def test_rows_with_the_same_text_under_other_ids_are_each_a_document(database_url: str, tmp_path: Path) -> None:
    """A FAQ export answers two questions with one text: both row ids must be citable documents (the
    second was reported 'unchanged' and never stored, so its id was never found or cited)."""
    kb_json("create", "KB", "--org", "acme")
    rows = [{"id": "faq-1", "title": "배송 기간", "text": SAME}, {"id": "faq-2", "title": "배송 기간", "text": SAME}]
    first = kb_json("import", "KB", str(_jsonl(tmp_path / "faq.jsonl", *rows)), "--org", "acme")
    assert first["created"] == 2 and "unchanged" not in first, first
    assert _doc_ids("KB") == ["faq-1", "faq-2"]
    # a later file holding one of them again under a new id adds that id too
    again = kb_json(
        "import", "KB", str(_jsonl(tmp_path / "more.jsonl", {"id": "faq-3", "text": SAME})), "--org", "acme"
    )
    assert again["created"] == 1 and again["version"] == 2, again
    # and the same file again changes nothing
    same = kb_json("import", "KB", str(tmp_path / "faq.jsonl"), "--org", "acme")
    assert same["new_version"] is False and same["unchanged"] == 2, same
    assert _doc_ids("KB") == ["faq-1", "faq-2", "faq-3"]


def test_a_row_refused_as_binary_is_named_by_its_line(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "KB", "--org", "acme")
    path = _jsonl(
        tmp_path / "rows.jsonl",
        {"id": "ok", "text": "환불은 7일 이내에 가능합니다."},
        {"id": "nul", "text": "앞부분\u0000뒷부분 환불 규정 안내입니다."},
    )
    code, out = kb("import", "KB", str(path), "--org", "acme")
    flat = " ".join(out.split())
    assert code == 2 and "rows.jsonl:2" in flat and "nul.txt" not in flat, flat
    assert kb_json("list", "--org", "acme")[0]["version"] == 0


async def test_preparing_rows_reports_progress_row_by_row(database_url: str) -> None:
    """12,000 KorQuAD-sized rows took eight minutes to prepare on a busy box, under a bar that was
    full from the start (it counted rows read, not rows prepared): the upload reports each one."""
    from servers.kb_server.store import UploadItem, create_kb, upload

    await create_kb("acme", "KB")
    items = [UploadItem(f"r{n}.txt", f"환불 규정 {n}번 안내입니다.".encode(), doc_id=f"r{n}") for n in range(3)]
    seen: list[int] = []
    result = await upload("acme", "KB", items, fold_copies=False, progress=seen.append)
    assert result.new_version and seen == [1, 1, 1]


def test_ctrl_c_during_an_import_says_nothing_was_imported(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while rows were prepared ended `kb import` with exit 130 and not a word."""
    import os
    import signal

    from servers.kb_server import rows

    real = rows.read_rows

    def interrupted(path: Path) -> list:
        os.kill(os.getpid(), signal.SIGINT)  # the operator presses Ctrl-C; it lands at the next await
        return real(path)

    monkeypatch.setattr(rows, "read_rows", interrupted)
    kb_json("create", "KB", "--org", "acme")
    # a terminal's Ctrl-C: the default handler (an earlier in-process test may have left another)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, out = kb("import", "KB", str(_jsonl(tmp_path / "rows.jsonl", {"id": "a", "text": SAME})), "--org", "acme")
    finally:
        signal.signal(signal.SIGINT, previous)
    flat = " ".join(out.split())
    assert code == 130 and "interrupted" in flat and "nothing was imported" in flat, (code, flat)
    assert kb_json("list", "--org", "acme")[0]["version"] == 0


def test_batch_search_says_when_it_searched_by_keyword_only(database_url: str, tmp_path: Path) -> None:
    """`kb search --file` after `kb import` without --embed ranked KorQuAD's passages by keyword only,
    without the note `kb search` gives."""
    kb_json("create", "KB", "--org", "acme")
    kb_json("import", "KB", str(_jsonl(tmp_path / "rows.jsonl", {"id": "a", "text": SAME})), "--org", "acme")
    queries = _jsonl(tmp_path / "q.jsonl", {"query": "배송 기간"})
    code, out = kb("search", "--file", str(queries), "--org", "acme")
    flat = " ".join(out.split())
    assert code == 0 and "keyword only" in flat and "KB (0 of 1 passages)" in flat, flat
