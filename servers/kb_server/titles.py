"""A document's title: from the document itself, not its file name, unless the uploader sets one.

Order: the uploader's title (``--title``, a manifest line, a row's ``title``) > the title the
parser found (Markdown front matter or first ``#`` heading, HTML ``<title>`` or ``<h1>``, PDF and
DOCX metadata) unless it is a placeholder ("Untitled", "Microsoft Word - 문서1.docx", the file
name again) > the first heading of any level > the first short line of the text, when it reads
like a title (not a sentence) > the file name without its extension.

A manifest sets titles for many files at once: JSON ``{"file name": "title", ...}`` or JSONL /
CSV with ``file`` and ``title`` columns (see :func:`read_manifest`).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from core.errors import invalid
from core.inputfile import require_regular_file
from core.jsonload import JSONInputError, loads

MAX_TITLE_CHARS = 200
_PLACEHOLDER = re.compile(
    r"^(untitled|no title|title|document\d*|문서\s*\d*|제목\s*없음|새\s*문서|microsoft (word|powerpoint|excel)\b.*|"
    r"slide\s*\d*|page\s*\d*|\d+|[\W_]+)$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"([.!?。]|(습니다|합니다|니다|어요|아요|에요|예요|했다|한다|이다)[.!?]?)$")
_MANUAL_MAX_BYTES = 5 * 1024 * 1024


def _squash(text: str) -> str:
    return " ".join(text.replace("#", " ").split()).strip(" -–—:|")


def usable(title: str | None, filename: str) -> bool:
    """False for empty, placeholder or file-name titles."""
    if not title or not title.strip():
        return False
    t = _squash(title)
    if not t or _PLACEHOLDER.match(t):
        return False
    stem, name = Path(filename).stem.lower(), Path(filename).name.lower()
    return t.lower() not in (stem, name) and not t.lower().endswith((".pdf", ".docx", ".doc", ".hwp", ".txt", ".md"))


def _first_line_title(text: str) -> str | None:
    for line in text.splitlines():
        line = _squash(line)
        if not line:
            continue
        if len(line) <= 80 and len(line.split()) <= 12 and not _SENTENCE_END.search(line):
            return line
        return None  # the document starts with prose: no title line
    return None


def document_title(uploader_title: str | None, parsed: Any, filename: str) -> str:
    """The title of a parsed document (see the module docstring for the order)."""
    if uploader_title and uploader_title.strip():
        return _squash(uploader_title)[:MAX_TITLE_CHARS]
    if usable(parsed.title, filename):
        return _squash(parsed.title)[:MAX_TITLE_CHARS]
    for block in parsed.blocks:
        section = getattr(block, "section", None)
        if section:
            first = _squash(section.split(" > ")[0])
            if usable(first, filename):
                return first[:MAX_TITLE_CHARS]
            break
    first_blocks = "\n".join(b.text for b in parsed.blocks[:2])
    line = _first_line_title(first_blocks)
    if line and usable(line, filename):
        return line[:MAX_TITLE_CHARS]
    return Path(filename).stem[:MAX_TITLE_CHARS]


def _manifest_text(path: Path) -> str:
    """The manifest read as `kb import` reads rows: UTF-8, UTF-16 with BOM, or CP949 (Korean Excel's CSV)."""
    from core.errors import SwitchboardError
    from servers.kb_server.parsers import decode_with_encoding, refuse_implausible

    try:
        text, encoding = decode_with_encoding(path.read_bytes(), path.name)
        if encoding == "cp949":
            refuse_implausible(text, path.name, legacy=True)
    except SwitchboardError:
        why = "not UTF-8, UTF-16 or CP949 text (binary data?): save the manifest as UTF-8"
        raise invalid(f"{path.name}: {why}") from None
    return text


def read_manifest(path: Path) -> dict[str, str]:
    """File name -> title, from JSON (an object), JSONL or CSV (columns ``file``, ``title``)."""
    require_regular_file(path, what="title manifest file")
    if path.stat().st_size > _MANUAL_MAX_BYTES:
        raise invalid(f"{path.name}: a manifest is at most 5 MB")
    text = _manifest_text(path)
    out: dict[str, str] = {}
    rows: list[Any]
    try:
        if path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        elif path.suffix.lower() == ".json":
            data = loads(text, source=path.name)
            if not isinstance(data, dict):
                raise invalid(f'{path.name}: a JSON manifest is an object {{"file name": "title", ...}}')
            rows = [{"file": k, "title": v} for k, v in data.items()]
        else:
            rows = [
                loads(line, source=path.name, line=n) for n, line in enumerate(text.splitlines(), 1) if line.strip()
            ]
    except ValueError as exc:
        if isinstance(exc, JSONInputError) and exc.kind != "syntax":
            raise  # nested too deeply, NaN, a repeated key: named with its line
        raise invalid(f"{path.name}: not valid JSON/CSV ({getattr(exc, 'reason', exc)})") from None
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("file"), str) or not isinstance(row.get("title"), str):
            raise invalid(f"{path.name}: entry {number} needs a `file` and a `title` (both text)")
        if not row["title"].strip():
            raise invalid(f"{path.name}: entry {number} has an empty title")
        out[Path(row["file"]).name] = row["title"].strip()[:MAX_TITLE_CHARS]
    return out
