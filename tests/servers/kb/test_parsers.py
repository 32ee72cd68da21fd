"""Ingestion: every supported format, and clear errors for files we cannot use."""

from __future__ import annotations

import os

import pytest

from core.errors import SwitchboardError
from servers.kb_server import parsers
from servers.kb_server.chunking import MAX_TOKENS, chunk_blocks, estimate_tokens
from servers.kb_server.parsers import Block
from tests.servers.kb.files import make_docx, make_pdf


def _error(fn, *args) -> str:
    with pytest.raises(SwitchboardError) as err:
        fn(*args)
    assert err.value.code.value == "INVALID_ARGUMENT"
    return err.value.message


def test_markdown_sections_titles_and_code_fences() -> None:
    text = "---\ntitle: 환불 정책\n---\n# 환불\n\n일반 안내.\n\n## 부분 환불\n\n가능합니다.\n\n```\n# 코드\n```\n"
    doc = parsers.parse(text.encode(), "refund.md")
    assert doc.title == "환불 정책"
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("일반 안내.", "환불"),
        ("가능합니다.", "환불 > 부분 환불"),
        ("```\n# 코드\n```", "환불 > 부분 환불"),
    ]


def test_plain_text_cp949_and_utf8_bom() -> None:
    assert parsers.parse("첫 문단\n\n둘째 문단".encode("cp949"), "a.txt").text == "첫 문단\n\n둘째 문단"
    assert parsers.parse("\ufeff안녕".encode(), "a.txt").text == "안녕"


def test_html_visible_text_only() -> None:
    html = (
        "<html><head><title>배송</title><script>alert('x')</script><style>p{}</style></head><body>"
        "<h1>배송 안내</h1><p>출고는 <b>1~2일</b><br>주말 제외</p><h2>택배사</h2>"
        "<table><tr><td>CJ</td><td>한진</td></tr></table><form><input value='x'></form></body></html>"
    )
    doc = parsers.parse(html.encode(), "ship.html")
    assert doc.title == "배송"
    assert "alert" not in doc.text and "p{}" not in doc.text
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("출고는 1~2일\n주말 제외", "배송 안내"),
        ("CJ | 한진", "배송 안내 > 택배사"),
    ]


def test_pdf_keeps_page_numbers() -> None:
    data = make_pdf(["Refund policy\nRefunds take three business days.", "", "Shipping is free over 50000 won."])
    doc = parsers.parse(data, "policy.pdf")
    assert doc.n_pages == 3
    assert [(b.page, b.text) for b in doc.blocks] == [
        (1, "Refund policy Refunds take three business days."),
        (3, "Shipping is free over 50000 won."),
    ]


def test_docx_headings_paragraphs_tables() -> None:
    data = make_docx(
        "교환 정책", [("교환 기간", ["수령 후 7일 이내"]), ("배송비", ["왕복 6,000원"])], [["사유", "비용"]]
    )
    doc = parsers.parse(data, "exchange.docx")
    assert doc.title == "교환 정책"
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("수령 후 7일 이내", "교환 정책 > 교환 기간"),
        ("왕복 6,000원", "교환 정책 > 배송비"),
        ("사유 | 비용", "교환 정책 > 배송비"),
    ]


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (make_pdf(["secret"], password="pw"), "locked.pdf", "encrypted"),
        (make_pdf(["abc"])[:300], "cut.pdf", "corrupt"),
        (b"%PDF-1.7\n garbage", "junk.pdf", "corrupt"),
        (b"hello", "fake.pdf", "not a PDF"),
        (make_pdf([""]), "scan.pdf", "no text"),
        (b"PK\x03\x04garbage", "broken.docx", "corrupt"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "secret.docx", "encrypted or legacy"),
        (b"\x00\x01\x02binary\x00", "blob.txt", "not a text file"),
        (b"", "empty.md", "empty"),
        (b"   \n\n  ", "blank.md", "no text"),
        (b"MZ\x90\x00", "tool.exe", "unsupported file type .exe"),
        (b"data", "noext", "unsupported file type (no extension)"),
    ],
)
def test_bad_files_are_clear_errors(data: bytes, name: str, expected: str) -> None:
    assert expected in _error(parsers.parse, data, name)


def test_read_upload_rejects_big_empty_missing_and_unsupported(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "huge.pdf"
    with open(big, "wb") as handle:  # a sparse 50 MB file: refused from its size, never read
        handle.truncate(50 * 1024 * 1024)
    assert "over the 20 MB upload limit" in _error(parsers.read_upload, big)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert "empty" in _error(parsers.read_upload, empty)
    assert "no such file" in _error(parsers.read_upload, tmp_path / "missing.md")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    assert "unsupported" in _error(parsers.read_upload, image)
    monkeypatch.setenv("SWITCHBOARD_KB_MAX_UPLOAD_MB", "0.001")
    small = tmp_path / "note.md"
    small.write_bytes(b"x" * 2000)
    assert "upload limit" in _error(parsers.read_upload, small)
    assert os.path.getsize(big) == 50 * 1024 * 1024


def test_chunks_respect_sections_pages_and_size() -> None:
    sentence = "환불은 결제 수단에 따라 처리 기간이 다르며 카드는 삼 영업일이 걸립니다. "
    blocks = [
        Block("짧은 문단.", section="A"),
        Block(sentence * 40, section="A"),
        Block("다른 절.", section="B"),
        Block("page two", page=2),
        Block("가" * 3000, page=2),
    ]
    chunks = chunk_blocks(blocks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(estimate_tokens(c.text) <= MAX_TOKENS + 1 for c in chunks)
    assert {(c.section, c.page) for c in chunks} == {("A", None), ("B", None), (None, 2)}
    assert any(c.text == "다른 절." for c in chunks)  # a section boundary starts a new chunk
    a_text = "".join(c.text.replace(" ", "").replace("\n", "") for c in chunks if c.section == "A")
    assert a_text == ("짧은 문단." + sentence * 40).replace(" ", "").replace("\n", "")
    long_sentence = [c for c in chunks if c.section == "A" and c.text.startswith("환불")]
    assert all(c.text.endswith("걸립니다.") for c in long_sentence)  # split at sentence ends
