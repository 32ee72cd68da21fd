"""Titles from the document itself, a title manifest, `kb import` of rows and `kb search --file`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers.kb_server.parsers import parse
from servers.kb_server.titles import document_title, read_manifest, usable
from tests.servers.kb.test_cli import kb, kb_json


def _title(filename: str, text: str, uploader: str | None = None) -> str:
    return document_title(uploader, parse(text.encode("utf-8"), filename), filename)


def test_titles_come_from_the_document_not_the_file_name() -> None:
    assert _title("a1.md", "---\ntitle: 반품 안내\n---\n# 다른 제목\n\n본문") == "반품 안내"
    assert _title("a1.md", "# 배송 정책\n\n배송은 1~2일 걸립니다.") == "배송 정책"
    assert _title("a1.md", "## 교환 절차\n\n교환은 7일 이내 가능합니다.") == "교환 절차"  # no H1: first heading
    assert _title("scan_0001.txt", "멤버십 혜택 안내\n\n골드 회원은 무료 배송입니다.") == "멤버십 혜택 안내"
    # prose first: no title line, the file name is the last resort
    assert _title("faq.txt", "환불은 3영업일이 걸립니다. 카드사 반영은 더 걸릴 수 있습니다.") == "faq"
    html = "<html><head><title>Untitled</title></head><body><h1>AS 접수 방법</h1><p>본문</p></body></html>"
    assert _title("p.html", html) == "AS 접수 방법"  # a placeholder <title> is skipped
    assert _title("a1.md", "# 배송 정책\n\n본문", uploader="  업로더가 정한 제목 ") == "업로더가 정한 제목"


@pytest.mark.parametrize(
    "title",
    ["", "  ", "Untitled", "Microsoft Word - 문서1.docx", "제목 없음", "12345", "a1", "a1.md", "---", "Document1"],
)
def test_placeholder_titles_are_not_used(title: str) -> None:
    assert not usable(title, "a1.md")


def test_manifest_sets_many_titles_and_rejects_bad_entries(tmp_path: Path) -> None:
    good = tmp_path / "titles.csv"
    good.write_text("file,title\ndocs/a.pdf,환불 규정 2024\nb.md,배송 안내\n", encoding="utf-8")
    assert read_manifest(good) == {"a.pdf": "환불 규정 2024", "b.md": "배송 안내"}
    as_json = tmp_path / "titles.json"
    as_json.write_text(json.dumps({"c.txt": "교환 안내"}, ensure_ascii=False), encoding="utf-8")
    assert read_manifest(as_json) == {"c.txt": "교환 안내"}
    for name, text, message in (
        ("m.jsonl", '{"file": "a.md"}\n', "entry 1"),
        ("m2.jsonl", '{"file": "a.md", "title": " "}\n', "empty title"),
        ("m3.json", "[1, 2]", "object"),
        ("m4.jsonl", "not json\n", "not valid"),
    ):
        bad = tmp_path / name
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(Exception, match=message):
            read_manifest(bad)


def test_upload_with_a_title_manifest(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "docs", "--org", "acme")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# 원래 제목\n\n본문 하나", encoding="utf-8")
    (folder / "b.txt").write_text("환불은 3영업일이 걸립니다.", encoding="utf-8")
    manifest = tmp_path / "titles.json"
    manifest.write_text(json.dumps({"b.txt": "환불 기간 안내"}, ensure_ascii=False), encoding="utf-8")
    kb_json("upload", "docs", str(folder), "--org", "acme", "--titles", str(manifest))
    docs = {d["doc_id"]: d["title"] for d in kb_json("show", "docs", "--org", "acme")["documents"]}
    assert docs == {"a": "원래 제목", "b": "환불 기간 안내"}
    manifest.write_text("[]", encoding="utf-8")
    code, out = kb("upload", "docs", str(folder), "--org", "acme", "--titles", str(manifest))
    assert code == 2 and "object" in out


def _rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_kb_import_rows_one_version_bad_row_changes_nothing_and_batch_search(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "faq", "--org", "acme")
    rows = [
        {
            "id": "r1",
            "title": "환불 정책",
            "text": "에이크미 환불은 3영업일이 걸립니다.",
            "metadata": {"url": "https://x/r1"},
        },
        {"id": "r2", "text": "배송 안내\n\n배송은 1~2일 걸립니다."},
        {"id": 3, "title": "Exchange", "text": "Exchanges are accepted within 7 days of delivery."},
    ]
    bad_cases = [
        ({"id": "r9", "text": ""}, "`text` is empty"),
        ({"text": "no id"}, "`id` is missing"),
        ({"id": "r1", "text": "dup"}, "appears twice"),
        ({"id": "../etc/passwd", "text": "x"}, "document id"),
        ({"id": "r9", "text": "x", "metadata": "{not json"}, "metadata"),
    ]
    for bad, message in bad_cases:
        code, out = kb("import", "faq", str(_rows(tmp_path / "bad.jsonl", [*rows, bad])), "--org", "acme")
        flat = " ".join(out.split())
        assert code == 2 and "bad.jsonl:4" in flat and message in flat, (bad, out)
    assert kb_json("show", "faq", "--org", "acme")["documents"] == []  # nothing was imported

    done = kb_json("import", "faq", str(_rows(tmp_path / "rows.jsonl", rows)), "--org", "acme")
    assert done["version"] == 1 and done["created"] == 3 and done["rows"] == 3
    csv_path = tmp_path / "more.csv"
    csv_path.write_text('id,title,text\nr4,"교환, 반품","교환은 7일 이내, 반품은 14일 이내입니다."\n', encoding="utf-8")
    assert kb_json("import", "faq", str(csv_path), "--org", "acme")["version"] == 2
    docs = {d["doc_id"]: d["title"] for d in kb_json("show", "faq", "--org", "acme")["documents"]}
    assert docs == {"r1": "환불 정책", "r2": "배송 안내", "3": "Exchange", "r4": "교환, 반품"}
    code, out = kb("import", "faq", str(tmp_path / "x.parquet"), "--org", "acme")
    assert code == 2

    queries = _rows(
        tmp_path / "q.jsonl",
        [{"id": "q1", "query": "환불 며칠"}, {"id": "q2", "query": "교환 기간", "top_k": 1}, {"query": "배송"}],
    )
    from tests.servers.kb.test_cli import app, runner

    result = runner.invoke(app, ["search", "--file", str(queries), "--org", "acme"])
    assert result.exit_code == 0, result.output
    assert "keyword only" in result.stderr  # no vectors yet: said on stderr, stdout stays JSON lines
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2", 3]
    assert lines[0]["results"][0]["doc_id"] == "r1" and lines[0]["results"][0]["title"] == "환불 정책"
    assert len(lines[1]["results"]) == 1 and lines[1]["results"][0]["doc_id"] == "r4"
    bad_q = _rows(tmp_path / "bq.jsonl", [{"query": "ok"}, {"query": "x", "top_k": 99}])
    code, out = kb("search", "--file", str(bad_q), "--org", "acme")
    assert code == 2 and "bq.jsonl:2" in " ".join(out.split()) and '"id"' not in out
