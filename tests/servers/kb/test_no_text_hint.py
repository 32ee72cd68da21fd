"""A document with no text says what to do for its own kind (a .docx whose XML carries a DOCTYPE
got "a scanned PDF needs OCR first" in a hostile-files walk)."""

from __future__ import annotations

import io
import zipfile

import pytest

from core.errors import ErrorCode, SwitchboardError
from servers.kb_server.parsers import parse
from tests.servers.kb.files import make_docx


def _doctype_docx() -> bytes:
    """A real .docx whose text is an entity declared in a DOCTYPE (the reader resolves no entities)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx("안내", [("환불", ["MARKER"])])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode("utf-8")
                head, _, rest = text.partition("?>")
                text = head + '?><!DOCTYPE w:document [<!ENTITY x "환불 안내">]>' + rest
                for word in ("MARKER", "환불", "안내"):
                    text = text.replace(f">{word}<", ">&x;<")
                data = text.encode("utf-8")
            out.writestr(item, data)
    return buffer.getvalue()


def test_a_docx_without_readable_text_gets_a_docx_hint() -> None:
    with pytest.raises(SwitchboardError) as raised:
        parse(_doctype_docx(), "안내.docx")
    assert raised.value.code is ErrorCode.INVALID_ARGUMENT
    assert "PDF" not in raised.value.message and ".md or .txt" in raised.value.message, raised.value.message


def test_a_text_file_of_blank_lines_gets_no_pdf_hint() -> None:
    with pytest.raises(SwitchboardError) as raised:
        parse(b"\n\n   \n", "빈.md")
    assert "PDF" not in raised.value.message
