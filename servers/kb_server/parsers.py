"""Turn an uploaded file into structured text blocks: Markdown, plain text, HTML, PDF and DOCX.

Each block keeps where it came from (the PDF page, the heading path of its section), so chunks
can cite it. Every failure is a :class:`~core.errors.SwitchboardError` (INVALID_ARGUMENT) whose
message says what is wrong with the file and what to do; nothing here touches the database.
Document text is data: it is never executed or interpreted beyond extracting its text.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import invalid
from servers.kb_server.limits import MB, RATIO_FLOOR_BYTES, IngestLimits, check_line_length, over_limit

DEFAULT_MAX_UPLOAD_BYTES = int(IngestLimits().max_upload_bytes)
SUPPORTED = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
SUPPORTED_HINT = "Markdown (.md), plain text (.txt), HTML (.html), PDF (.pdf) or Word (.docx)"


@dataclass(slots=True)
class Block:
    """A paragraph-like piece of a document and where it sits."""

    text: str
    page: int | None = None
    section: str | None = None


@dataclass(slots=True)
class ParsedDocument:
    """The extracted text of one file."""

    mime_type: str
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    n_pages: int | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


def max_upload_bytes() -> int:
    """The upload limit: ``SWITCHBOARD_KB_MAX_UPLOAD_MB`` (default 20 MB)."""
    return IngestLimits.from_env().max_upload_bytes


def read_upload(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, refusing missing, empty, oversized and unsupported files before reading."""
    limit = max_upload_bytes() if limit is None else limit
    if not path.is_file():
        raise invalid(f"{path.name}: no such file")
    mime_type_for(path.name)
    size = path.stat().st_size
    if size == 0:
        raise invalid(f"{path.name}: the file is empty")
    if size > limit:
        raise invalid(
            f"{path.name}: {size / 1048576:.1f} MB is over the {limit / 1048576:.0f} MB upload limit;"
            " split the document or raise SWITCHBOARD_KB_MAX_UPLOAD_MB"
        )
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # the file grew while we read it
        raise invalid(f"{path.name}: over the {limit / 1048576:.0f} MB upload limit")
    return data


def mime_type_for(filename: str) -> str:
    """The MIME type of a supported file name; INVALID_ARGUMENT for anything else."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED:
        shown = suffix or "(no extension)"
        raise invalid(f"{filename}: unsupported file type {shown}; upload {SUPPORTED_HINT}")
    return SUPPORTED[suffix]


def parse(data: bytes, filename: str, limits: IngestLimits | None = None) -> ParsedDocument:
    """Extract blocks from ``data`` according to the type of ``filename``, within ``limits``."""
    limits = limits or IngestLimits.from_env()
    mime = mime_type_for(filename)
    if not data:
        raise invalid(f"{filename}: the file is empty")
    if mime == "application/pdf":
        doc = parse_pdf(data, filename)
    elif mime.endswith("wordprocessingml.document"):
        doc = parse_docx(data, filename, limits)
    else:
        text, encoding = decode_with_encoding(data, filename)
        check_line_length(text, filename, limits)
        refuse_implausible(text, filename, legacy=encoding == "cp949")
        if mime == "text/markdown":
            doc = parse_markdown(text)
        elif mime == "text/html":
            doc = parse_html(text, filename, limits)
        else:
            doc = parse_plain(text)
    doc.blocks = [b for b in doc.blocks if b.text.strip()]
    if not doc.blocks:
        raise invalid(f"{filename}: no text found in the document{_NO_TEXT_HINT.get(mime, '')}")
    return doc


# what to do about a document with no text, by its kind (a .docx got the PDF's hint in a walk)
_NO_TEXT_HINT = {
    "application/pdf": " (a scanned PDF needs OCR first)",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        " (its text may be in text boxes, images or a document type this reader does not open: "
        "save it again from Word, or as .md or .txt, and upload that)"
    ),
}


def decode_text(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or CP949/EUC-KR; refuses binary data."""
    return decode_with_encoding(data, filename)[0]


def decode_with_encoding(data: bytes, filename: str) -> tuple[str, str]:
    """:func:`decode_text` and the encoding that read it (``utf-16``, ``utf-8-sig`` or ``cp949``)."""
    candidates = ["utf-16"] if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ["utf-8-sig", "cp949"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text.replace("\r\n", "\n").replace("\r", "\n"), encoding
    raise invalid(f"{filename}: {_NOT_TEXT}")


_NOT_TEXT = "not a text file (binary data); upload UTF-8, UTF-16 or CP949 text, or a PDF or .docx"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd\ue000-\uf8ff]")
_CJK_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_NON_SPACE_RUN = re.compile(r"\S{65,}")
_MIN_JUDGED = 256  # shorter texts are too small to judge


def implausible_reason(text: str, *, legacy: bool = False) -> str | None:
    """Why decoded ``text`` is not plausibly a document (None when it is). Linear in the text.

    Binary data decodes as *something* in CP949 (any byte pair 0xB0-0xFE is a Hangul syllable or
    a Hanja), so decoding alone proves nothing. Real text has few control or private-use
    characters, breaks its words with spaces (Hangul, Latin) or is written in ideographs or kana
    (Chinese, Japanese), and Korean text read as CP949 (``legacy``) is mostly Hangul, not Hanja
    (UTF-8 is not judged by that rule: a Chinese page naming a Korean product is fine).
    """
    visible = _visible(text)
    if visible < _MIN_JUDGED:
        return None
    if sum(1 for _ in _CONTROL.finditer(text)) > visible // 100:
        return "control or private-use characters"
    ideographs = sum(1 for _ in _CJK_IDEOGRAPH.finditer(text))
    kana = sum(1 for _ in _KANA.finditer(text))
    hangul = sum(1 for _ in _HANGUL_SYLLABLE.finditer(text))
    if legacy and hangul and ideographs > hangul // 2 and kana * 10 < ideographs:
        return "Hanja mixed into Hangul the way decoded binary data is"
    if ideographs + kana < visible // 4:
        long_runs = sum(len(m.group()) for m in _NON_SPACE_RUN.finditer(text))
        if long_runs * 2 > visible:
            return "no word breaks (mostly runs of 65+ characters without a space)"
    return None


_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
_SPACE = re.compile(r"\s")


def _visible(text: str) -> int:
    return len(text) - sum(1 for _ in _SPACE.finditer(text))


def refuse_implausible(text: str, filename: str, *, legacy: bool = False) -> None:
    """INVALID_ARGUMENT when decoded text is binary data in disguise (``legacy``: it was read as CP949)."""
    reason = implausible_reason(text, legacy=legacy)
    if reason:
        raise invalid(f"{filename}: {_NOT_TEXT} ({reason})")


_WS = re.compile(r"[ \t\u00a0\u3000]+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


# --- Markdown and plain text -------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text
    meta: dict[str, str] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    rest = text[end + 4 :]
    return meta, rest.split("\n", 1)[1] if "\n" in rest else ""


def parse_markdown(text: str) -> ParsedDocument:
    """Blocks split at blank lines; ATX and setext headings set the section path."""
    meta, text = _front_matter(text)
    doc = ParsedDocument("text/markdown", title=meta.get("title") or None)
    headings: list[str] = []
    paragraph: list[str] = []
    in_fence = False

    def section() -> str | None:
        return " > ".join(headings) or None

    def flush() -> None:
        if paragraph:
            doc.blocks.append(Block("\n".join(paragraph).strip(), section=section()))
            paragraph.clear()

    def heading(level: int, title: str) -> None:
        flush()
        title = _squash(title.replace("**", "").replace("`", ""))
        del headings[level - 1 :]
        headings.extend([""] * (level - 1 - len(headings)))
        headings.append(title)
        headings[:] = [h for h in headings if h]
        if level == 1 and doc.title is None:
            doc.title = title

    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        if in_fence:
            paragraph.append(line)
            continue
        match = _ATX.match(line)
        if match:
            heading(len(match.group(1)), match.group(2))
        elif _SETEXT.match(line) and len(paragraph) == 1 and line.strip():
            title = paragraph.pop()
            heading(1 if line.strip().startswith("=") else 2, title)
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.rstrip())
    flush()
    return doc


def parse_plain(text: str) -> ParsedDocument:
    """Paragraphs separated by blank lines."""
    doc = ParsedDocument("text/plain")
    for para in re.split(r"\n\s*\n", text):
        if para.strip():
            doc.blocks.append(Block(para.strip()))
    return doc


# --- HTML -------------------------------------------------------------------------------------

_SKIP_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object", "form", "button"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "li", "ul", "ol", "dl",
    "dt", "dd", "pre", "blockquote", "table", "tr", "figure", "figcaption", "address", "body", "details",
    "summary",
}  # fmt: skip


def parse_html(text: str, filename: str = "document.html", limits: IngestLimits | None = None) -> ParsedDocument:
    """Visible text of an HTML page; headings set the section path, table rows become lines."""
    import lxml.html
    from lxml import etree

    limits = limits or IngestLimits.from_env()
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        _refuse_deep(parser.error_log, filename, limits)
        raise invalid(f"{filename}: not readable as HTML ({type(exc).__name__})") from None
    _refuse_deep(parser.error_log, filename, limits)
    if _depth(root, limits.max_depth) > limits.max_depth:
        raise _too_deep(filename, limits)
    doc = ParsedDocument("text/html")
    title_el = root.find(".//title")
    if title_el is not None and (title_el.text_content() or "").strip():
        doc.title = _squash(title_el.text_content())
    headings: list[tuple[int, str]] = []
    buffer: list[str] = []

    def flush() -> None:
        joined = "\n".join(_squash(line) for line in "".join(buffer).split("\n"))
        joined = re.sub(r"\n{2,}", "\n", joined).strip()
        if joined:
            doc.blocks.append(Block(joined, section=" > ".join(h for _, h in headings) or None))
        buffer.clear()

    def walk(el: object) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""  # type: ignore[attr-defined]
        tag = tag.lower()
        if tag in _SKIP_TAGS or not tag:
            return
        if tag in _HEADINGS:
            flush()
            title = _squash(el.text_content())  # type: ignore[attr-defined]
            level = _HEADINGS[tag]
            while headings and headings[-1][0] >= level:
                headings.pop()
            if title:
                headings.append((level, title))
                if level == 1 and doc.title is None:
                    doc.title = title
            return
        block = tag in _BLOCK_TAGS
        if block:
            flush()
        if tag == "br":
            buffer.append("\n")
        if el.text:  # type: ignore[attr-defined]
            buffer.append(el.text)  # type: ignore[attr-defined]
        for child in el:  # type: ignore[attr-defined]
            walk(child)
            if child.tail:
                buffer.append(child.tail)
            if isinstance(child.tag, str) and child.tag.lower() in ("td", "th"):
                buffer.append(" | ")
        if block:
            flush()

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
    for b in doc.blocks:
        b.text = re.sub(r"(\s*\|\s*)+$", "", b.text, flags=re.M)
    return doc


def _too_deep(filename: str, limits: IngestLimits) -> Exception:
    return over_limit(
        filename,
        f"elements are nested deeper than {min(limits.max_depth, _LIBXML_DEPTH)} levels (the nesting limit)",
        "max_depth",
        f"flatten the document; SWITCHBOARD_KB_MAX_DEPTH can lower the limit, libxml2 stops at {_LIBXML_DEPTH}",
    )


_LIBXML_DEPTH = 256


def _refuse_deep(error_log: object, filename: str, limits: IngestLimits) -> None:
    """Refuse a document the XML/HTML parser cut short because it nests too deep."""
    for entry in error_log or ():  # type: ignore[attr-defined]
        if "Excessive depth" in (entry.message or ""):
            raise _too_deep(filename, limits)


def _depth(root: object, cap: int) -> int:
    """The element nesting depth of ``root`` (iterative; stops counting past ``cap``)."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > cap:
            break
        stack.extend((child, depth + 1) for child in el)  # type: ignore[attr-defined]
    return deepest


# --- PDF --------------------------------------------------------------------------------------


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    """Text per page (page numbers kept); refuses encrypted and corrupt files."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise invalid(f"{filename}: not a PDF file (no %PDF header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:
                opened = 0
            if not opened:
                raise invalid(f"{filename}: the PDF is encrypted (password protected); upload a decrypted copy")
        pages = list(reader.pages)
        doc = ParsedDocument("application/pdf", n_pages=len(pages))
        try:
            title = reader.metadata.title if reader.metadata else None
        except Exception:
            title = None
        doc.title = _squash(title) if isinstance(title, str) and title.strip() else None
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            for para in _pdf_paragraphs(text):
                doc.blocks.append(Block(para, page=number))
    except PdfReadError as exc:
        raise invalid(f"{filename}: the PDF is corrupt or truncated ({exc.__class__.__name__})") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError, zipfile.BadZipFile):
        raise invalid(f"{filename}: the PDF is corrupt and cannot be read") from None
    return doc


def _pdf_paragraphs(text: str) -> list[str]:
    """Paragraphs of a PDF page: blank lines split; wrapped lines are joined."""
    text = text.replace("\x00", "")
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [_squash(line) for line in para.split("\n") if line.strip()]
        if lines:
            out.append(" ".join(lines))
    return out


# --- DOCX -------------------------------------------------------------------------------------


def parse_docx(data: bytes, filename: str, limits: IngestLimits | None = None) -> ParsedDocument:
    """Paragraphs and tables in document order; Heading styles set the section path."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise invalid(f"{filename}: an encrypted or legacy Word (.doc) file; save it as an unprotected .docx")
    if not data.startswith(b"PK"):
        raise invalid(f"{filename}: not a Word .docx file")
    limits = limits or IngestLimits.from_env()
    check_archive(data, filename, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml import etree

    try:
        document = docx.Document(io.BytesIO(data))
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            raise _too_deep(filename, limits) from None
        raise invalid(f"{filename}: the .docx file is corrupt and cannot be read") from None
    except MemoryError:
        raise
    except Exception:
        raise invalid(f"{filename}: the .docx file is corrupt and cannot be read") from None
    doc = ParsedDocument(SUPPORTED[".docx"])
    try:
        title = document.core_properties.title
    except Exception:
        title = None
    doc.title = _squash(title) if title and title.strip() else None
    headings: list[tuple[int, str]] = []

    def section() -> str | None:
        return " > ".join(h for _, h in headings) or None

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = _squash(para.text)
            style = (para.style.name if para.style is not None else "") or ""
            level = _heading_level(style)
            if level is not None and text:
                while headings and headings[-1][0] >= level:
                    headings.pop()
                headings.append((level, text))
                if doc.title is None and level <= 1:
                    doc.title = text
            elif text:
                doc.blocks.append(Block(text, section=section()))
        elif tag == "tbl":
            rows = []
            for row in Table(child, document).rows:
                cells = [_squash(c.text) for c in row.cells]
                rows.append(" | ".join(c for c in cells if c))
            text = "\n".join(r for r in rows if r)
            if text:
                doc.blocks.append(Block(text, section=section()))
    return doc


def check_archive(data: bytes, filename: str, limits: IngestLimits) -> None:
    """Refuse a zip whose members would unpack past the size or ratio limit (read from its directory).

    Python's zipfile never inflates a member past the size its directory declares (it stops and
    fails the CRC), so the declared sizes bound what parsing can unpack.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise invalid(f"{filename}: the .docx file is corrupt and cannot be read") from None
    unpacked = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if unpacked > limits.max_decompressed_bytes:
        raise over_limit(
            filename,
            f"it unpacks to {unpacked / MB:,.0f} MB, over the {limits.max_decompressed_mb:,.0f} MB decompressed-size"
            " limit (a zip bomb or an oversized document)",
            "max_decompressed_mb",
        )
    if unpacked >= RATIO_FLOOR_BYTES and unpacked / packed > limits.max_compression_ratio:
        raise over_limit(
            filename,
            f"it unpacks {unpacked / packed:,.0f}× its size, over the compression-ratio limit of"
            f" {limits.max_compression_ratio:,.0f}× (a zip bomb)",
            "max_compression_ratio",
        )


def _heading_level(style: str) -> int | None:
    lowered = style.lower()
    if lowered == "title":
        return 0
    match = re.match(r"(heading|제목)\s*(\d)", lowered)
    return int(match.group(2)) if match else None
