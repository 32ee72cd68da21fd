"""Query files for batch search (``kb search --file``, ``memory search --file``): JSONL, one query a line.

Each line is ``{"query": "...", "id"?: any, "top_k"?: 1-50, ...}``; other keys are passed through
(the memory CLI reads ``customer`` and ``agent_id``). The whole file is checked before the first
search, so a bad line (named with its number) prints nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import invalid

MAX_QUERY_CHARS = 1000


def read_queries(path: Path, top_k: int) -> list[dict[str, Any]]:
    if not path.is_file():
        raise invalid(f"{path}: no such file")
    out = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise invalid(f"{path.name}:{number}: not a JSON object — fix the line and run again") from None
            if not isinstance(item, dict) or not isinstance(item.get("query"), str):
                raise invalid(f'{path.name}:{number}: each line needs {{"query": "..."}}')
            if not item["query"].strip() or len(item["query"]) > MAX_QUERY_CHARS:
                raise invalid(f"{path.name}:{number}: the query must be 1-{MAX_QUERY_CHARS} characters")
            k = item.get("top_k", top_k)
            if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
                raise invalid(f"{path.name}:{number}: top_k must be an integer 1-50")
            out.append({**item, "id": item.get("id", number), "top_k": k, "line": number})
    return out


def write_line(value: dict[str, Any]) -> None:
    import sys

    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
