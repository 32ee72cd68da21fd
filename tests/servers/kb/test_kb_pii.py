"""Personal data in KB texts is masked before anything is stored, chunked, embedded or indexed
(docs/kb.md: "KB texts are masked on upload"), on every write path (`kb import`, `kb upload`,
the console, load-demo: all pass ``store.prepare``); a document id that is personal data is
refused, naming the row or file, and the whole import writes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import get_engine
from core.errors import SwitchboardError
from servers.kb_server import store
from servers.kb_server.models import kb_chunk, kb_document, kb_version
from servers.kb_server.rows import read_rows
from tests.servers.kb.test_cli import kb, kb_json

PERSONAL = "주민 900101-1234567 카드 4111 1111 1111 1111 전화 010-1234-5678 메일 hong@example.com 계좌 110-123-456789"
# What must not be anywhere: every raw value, and the parts a mask does not keep.
RAW = ("900101", "1234567", "4111 1111", "1234-5678", "hong@", "110-123", "123-456789")


def _jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _leaks(text: str) -> list[str]:
    return [value for value in RAW if value in text]


async def _stored_text() -> str:
    engine = await get_engine()
    async with engine.connect() as conn:
        parts = []
        for table in (kb_document, kb_chunk, kb_version):
            for row in (await conn.execute(select(table))).mappings():
                parts.extend(str(v) for v in row.values())
    return "\n".join(parts)


def _stored_text_now() -> str:
    """:func:`_stored_text` from a sync test, between CLI commands: its own loop and engine, disposed
    after (on PostgreSQL an engine left from this loop failed the next command's: 'different loop')."""
    from core.db import dispose_engines

    async def read() -> str:
        try:
            return await _stored_text()
        finally:
            await dispose_engines()

    return asyncio.run(read())


def _index_text(home: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in (home / "kb-index").rglob("*") if p.is_file())


def test_import_masks_rows_in_every_store_and_in_search(database_url: str, tmp_path: Path) -> None:
    import os

    kb_json("create", "KB", "--org", "acme")
    path = _jsonl(
        tmp_path / "rows.jsonl",
        {
            "id": "faq-1",
            "title": f"제목 {PERSONAL}",
            "text": f"본문 {PERSONAL}",
            "metadata": {"source": "담당 hong@example.com 010-1234-5678"},
        },
    )
    imported = kb_json("import", "KB", str(path), "--org", "acme")
    assert imported["version"] == 1
    found = kb_json("search", "주민 카드 계좌 메일", "--org", "acme")
    assert found["hits"], found
    hit = found["hits"][0]
    assert hit["doc_id"] == "faq-1"
    assert "******-*******" in hit["text"] and "010-****-5678" in hit["text"] and "h***@example.com" in hit["text"]
    assert _leaks(json.dumps(found, ensure_ascii=False)) == []
    assert _leaks(_stored_text_now()) == []
    assert _leaks(_index_text(Path(os.environ["SWITCHBOARD_HOME"]))) == []
    shown = kb_json("show", "KB", "--org", "acme")
    assert _leaks(json.dumps(shown, ensure_ascii=False)) == []


async def test_upload_masks_text_title_sections_and_source(database_url: str) -> None:
    await store.create_kb("acme", "정책")
    body = f"# 안내 {PERSONAL}\n\n## 연락처 010-1234-5678\n\n본문 {PERSONAL}\n".encode()
    await store.upload("acme", "정책", [store.UploadItem("guide.md", body, source="메일 hong@example.com")])
    await store.upload("acme", "정책", [store.UploadItem("plain.txt", f"{PERSONAL}\n\n둘째 문단".encode())])
    stored = await _stored_text()
    assert "본문 주민 ******-*******" in stored
    assert _leaks(stored) == []


@pytest.mark.parametrize("doc_id", ["900101-1234567", "4111111111111111", "010-1234-5678", "hong@example.com"])
def test_a_personal_row_id_is_refused_naming_the_row(tmp_path: Path, doc_id: str) -> None:
    path = _jsonl(tmp_path / "t.jsonl", {"id": "ok-1", "text": "환불은 7일"}, {"id": doc_id, "text": "본문"})
    with pytest.raises(SwitchboardError) as caught:
        read_rows(path)
    assert caught.value.code.value == "INVALID_ARGUMENT"
    message = caught.value.message
    assert message.startswith("t.jsonl:2: ") and "personal data" in message
    assert doc_id not in message  # the error does not repeat the value


def test_a_personal_numeric_csv_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,text\n7,환불은 7일\n9001011234567,본문\n", encoding="utf-8")
    with pytest.raises(SwitchboardError) as caught:
        read_rows(path)
    assert caught.value.message.startswith("t.csv:3: ") and "personal data" in caught.value.message


def test_cli_import_with_a_personal_id_writes_nothing(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "KB", "--org", "acme")
    path = _jsonl(
        tmp_path / "t.jsonl",
        {"id": "ok-1", "text": "환불은 7일 이내"},
        {"id": "900101-1234567", "title": "제목", "text": f"본문 {PERSONAL}"},
    )
    code, out = kb("import", "KB", str(path), "--org", "acme")
    flat = " ".join(out.split())
    assert code == 2 and "INVALID_ARGUMENT" in flat and "t.jsonl:2" in flat and "personal data" in flat, flat
    assert "900101-1234567" not in flat
    assert kb_json("show", "KB", "--org", "acme")["version"] == 0
    assert _stored_text_now() == ""


async def test_upload_of_a_file_named_by_personal_data_is_refused(database_url: str) -> None:
    await store.create_kb("acme", "정책")
    items = [store.UploadItem("ok.md", b"# ok\n\nfine"), store.UploadItem("010-1234-5678.md", b"# memo\n\ntext")]
    with pytest.raises(SwitchboardError) as caught:
        await store.upload("acme", "정책", items)
    assert "personal data" in caught.value.message and "--doc-id" in caught.value.message
    with pytest.raises(SwitchboardError):
        await store.upload("acme", "정책", [store.UploadItem("memo.md", b"# memo\n\ntext", doc_id="hong@example.com")])
    assert await _stored_text() == ""
    named = await store.upload("acme", "정책", [store.UploadItem("010-1234-5678.md", b"# memo\n\ntext", doc_id="memo")])
    assert named.documents[0].doc_id == "memo"
    assert _leaks(await _stored_text()) == [] and "010-1234-5678" not in await _stored_text()


async def test_company_numbers_in_the_demo_kb_survive(database_url: str) -> None:
    from servers.kb_server.demo import load_demo

    await load_demo("demo")
    stored = await _stored_text()
    assert "1588-0000" in stored  # a representative number is not personal data


async def test_the_companys_own_landlines_stay_and_mobiles_are_masked(database_url: str) -> None:
    """A KB is the company's own documents: the numbers its customers call it on stay readable
    (the demo's roaming guide: "+82-2-0000-0000"; "02-123-4567", "1588-0000"); a mobile number in
    the same text is personal data and is masked."""
    await store.create_kb("acme", "연락처")
    body = "해외에서는 +82-2-0000-0000, 국내 02-123-4567 또는 1588-0000. 담당자 휴대폰 010-9876-5432".encode()
    await store.upload("acme", "연락처", [store.UploadItem("contact.txt", body)])
    stored = await _stored_text()
    assert "+82-2-0000-0000" in stored and "02-123-4567" in stored and "1588-0000" in stored, stored
    assert "010-****-5432" in stored and "9876" not in stored
