"""Query files for batch search (``kb search --file``, ``memory search --file``): JSONL, one query a line.

Each line is ``{"query": "...", "id"?: any, "top_k"?: 1-50, ...}``; other keys are passed through
(the memory CLI reads ``customer`` and ``agent_id``). The whole file is checked before the first
search, so a bad line (named with its number) prints nothing, and a file without a query is an
error. The file is UTF-8 (with or without BOM) or CP949.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import invalid
from core.inputfile import require_regular_file
from core.jsonload import loads

MAX_QUERY_CHARS = 1000


ENCODINGS = ("utf-8-sig", "cp949")  # UTF-8 (with or without BOM), else CP949 as Korean Windows saves it


def _text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise invalid(f"{path.name}: not UTF-8 or CP949 text (binary data?): save the queries as UTF-8 JSONL")


def read_queries(path: Path, top_k: int) -> list[dict[str, Any]]:
    require_regular_file(path, what="JSONL file of queries")
    out = []
    for number, line in enumerate(_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        item = loads(line, source=path.name, line=number, hint=" — fix the line and run again")
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            raise invalid(f'{path.name}:{number}: each line needs {{"query": "..."}}')
        if not item["query"].strip() or len(item["query"]) > MAX_QUERY_CHARS:
            raise invalid(f"{path.name}:{number}: the query must be 1-{MAX_QUERY_CHARS} characters")
        k = item.get("top_k", top_k)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
            raise invalid(f"{path.name}:{number}: top_k must be an integer 1-50")
        out.append({**item, "id": item.get("id", number), "top_k": k, "line": number})
    if not out:
        raise invalid(f'{path.name}: no queries (the file is empty): write one {{"query": "..."}} per line')
    return out


def write_line(value: dict[str, Any]) -> None:
    import sys

    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
