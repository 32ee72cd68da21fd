"""Rows of passages as KB documents (``switchboard kb import``): JSONL or CSV; parquet with pyarrow.

JSONL and CSV are read like an uploaded document: UTF-8, UTF-16 with BOM, or CP949 (Korean Excel).

Each row is ``id`` (the document id), ``text``, and optionally ``title``, ``source`` (or
``url``) and ``metadata`` (an object; its ``source``/``url`` is used as the source, the rest is
not stored — KB chunks have no free metadata yet). Every row becomes one plain-text document, so
it is chunked, tokenised and cited like an uploaded file, and masked like one (personal data in
the text, title and source: ``store.prepare``). The whole file is validated first (a bad row names
its line and writes nothing; so does an ``id`` that is personal data), then uploaded as ONE new KB
version.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import invalid
from core.inputfile import require_regular_file
from core.jsonload import JSONInputError, loads

MAX_TEXT_CHARS = 2_000_000
MAX_FILE_BYTES = 256 * 1024 * 1024  # read whole and decoded: about twice this in memory at the peak
FORMATS = (".jsonl", ".csv", ".parquet")


def _text(path: Path) -> str:
    """The file's text, read as `kb upload` reads a document: UTF-8 (with or without BOM), UTF-16
    with BOM, or CP949/EUC-KR (as Korean Excel saves a CSV); binary data is refused."""
    from core.errors import SwitchboardError
    from servers.kb_server.parsers import decode_with_encoding, refuse_implausible

    try:
        text, encoding = decode_with_encoding(path.read_bytes(), path.name)
        if encoding == "cp949":
            refuse_implausible(text, path.name, legacy=True)
    except SwitchboardError:
        raise invalid(
            f"{path.name}: not UTF-8, UTF-16 or CP949 text (binary data?): save the rows as UTF-8 {path.suffix}"
        ) from None
    return text


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for number, line in enumerate(_text(path).split("\n"), start=1):
            if line.strip():
                yield number, loads(line, source=path.name, line=number, hint=" — fix the line and run again")
    elif suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq  # optional: not a dependency of switchboard
        except ImportError:
            raise invalid("reading parquet needs pyarrow (pip install pyarrow), or convert to JSONL/CSV") from None
        for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield number, row
    else:
        raise invalid(f"{path.name}: use a .jsonl, .csv or .parquet file")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV file: the line where the row starts in the file (a quoted cell may
    span lines), a column named twice or the header repeated as a row (two files joined) refused."""
    csv.field_size_limit(MAX_TEXT_CHARS)
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    number = 1
    try:
        names = [name.strip() for name in next(reader, [])]
        if twice := next((n for i, n in enumerate(names) if n and n in names[:i]), None):
            raise invalid(f"{path.name}:1: the header names the column {twice!r} twice; either cell could be read")
        number = reader.line_num + 1
        for cells in reader:
            line, number = number, reader.line_num + 1
            if not cells:
                continue
            if [cell.strip() for cell in cells] == names:
                raise invalid(f"{path.name}:{line}: repeats the header (two files joined?); remove the line")
            yield line, dict(zip(names, cells, strict=False))  # a short row: its last columns are missing
    except csv.Error as exc:  # a field past the limit, a stray NUL: named with its line, not a traceback
        why = f"a field is longer than {MAX_TEXT_CHARS} characters" if "field limit" in str(exc) else str(exc)
        raise invalid(f"{path.name}:{number}: {why}") from None


def _kind(value: Any) -> str:
    """What a row's value is, in JSON's words: a JSONL ``"text": 123`` is "a number"."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    return type(value).__name__


def read_rows(path: Path) -> list[Any]:
    """UploadItems for every row of ``path``; the first bad row raises with its line number."""
    from servers.kb_server.store import UploadItem, validate_doc_id

    if path.is_dir():
        raise invalid(
            f"{path}: is a directory; kb import reads one file of rows (.jsonl, .csv or .parquet). "
            f"To upload the documents in a folder: switchboard kb upload KB {path}"
        )
    require_regular_file(path, what="file of rows (.jsonl, .csv or .parquet)")
    if (size := path.stat().st_size) > MAX_FILE_BYTES:
        raise invalid(
            f"{path.name}: {size / 1048576:,.0f} MiB is over the {MAX_FILE_BYTES // 1048576} MiB a kb import reads; "
            "split it into smaller files and import each (each import is one new version)"
        )
    items: list[Any] = []
    seen: set[str] = set()
    for number, row in _rows(path):
        where = f"{path.name}:{number}"
        if not isinstance(row, dict):
            raise invalid(f"{where}: each row is an object with id and text")
        doc_id, text, title = row.get("id"), row.get("text"), row.get("title")
        meta = row.get("metadata") or {}
        if isinstance(meta, str) and meta.strip():
            try:
                meta = loads(meta, source=path.name, line=number)
            except JSONInputError as exc:
                raise invalid(f"{where}: metadata {exc.reason}") from None
        if not isinstance(meta, dict):
            raise invalid(f"{where}: metadata must be an object")
        if doc_id is None:
            raise invalid(f"{where}: `id` is missing")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise invalid(f"{where}: `id` must be a string or a whole number, not {_kind(doc_id)}")
        if not str(doc_id).strip():
            raise invalid(f"{where}: `id` is empty")
        if text is None:
            raise invalid(f"{where}: `text` is missing")
        if not isinstance(text, str):
            raise invalid(f"{where}: `text` must be a string, not {_kind(text)}")
        if not text.strip():
            raise invalid(f"{where}: `text` is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise invalid(f"{where}: `text` is longer than {MAX_TEXT_CHARS} characters")
        if title is not None and not isinstance(title, str):
            raise invalid(f"{where}: `title` must be a string, not {_kind(title)}")
        try:
            doc_id = validate_doc_id(str(doc_id).strip())
        except Exception as exc:
            raise invalid(f"{where}: {getattr(exc, 'message', exc)}") from None
        if doc_id in seen:
            raise invalid(f"{where}: id {doc_id!r} appears twice")
        seen.add(doc_id)
        source = row.get("source") or row.get("url") or meta.get("source") or meta.get("url")
        items.append(
            UploadItem(
                f"{doc_id}.txt",
                text.encode("utf-8"),
                doc_id=doc_id,
                title=(title or "").strip() or None,
                source=str(source) if source else f"{path.name}#{doc_id}",
                label=where,
            )
        )
    if not items:
        raise invalid(f"{path.name}: no rows")
    return items
