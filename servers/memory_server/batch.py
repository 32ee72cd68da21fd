"""Batch work for the CLI: many searches in one process, and computing pending vectors now.

``switchboard memory search --file queries.jsonl`` reads ``{"query", "customer"?, "agent_id"?,
"top_k"?, "id"?}`` per line (the whole file is checked first), loads the models once and prints
one compact JSON line per query: ``{"id", "query", "customer", "results": [...]}`` with the same
fields as the MCP tool's results (``source_message_id`` maps a hit back to your turn ids).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import invalid

MAX_QUERY_CHARS = 1000


def read_queries(path: Path, customer: str | None, agent: str | None, top_k: int) -> list[dict[str, Any]]:
    if not path.is_file():
        raise invalid(f"{path} does not exist or is not a file")
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise invalid(f"{path.name}:{number}: not a JSON object — fix the line and run again") from None
            if not isinstance(item, dict) or not isinstance(item.get("query"), str):
                raise invalid(f'{path.name}:{number}: each line needs {{"query": "..."}}')
            query = item["query"]
            if not query.strip() or len(query) > MAX_QUERY_CHARS:
                raise invalid(f"{path.name}:{number}: the query must be 1-{MAX_QUERY_CHARS} characters")
            k = item.get("top_k", top_k)
            if not isinstance(k, int) or not 1 <= k <= 50:
                raise invalid(f"{path.name}:{number}: top_k must be an integer 1-50")
            who = item.get("customer", customer)
            if not who and not (item.get("agent_id") or agent):
                raise invalid(f"{path.name}:{number}: no `customer` on the line and no --customer given")
            out.append(
                {
                    "id": item.get("id", number),
                    "query": query,
                    "customer": who,
                    "agent_id": item.get("agent_id", agent),
                    "top_k": k,
                }
            )
    return out


async def search_file(
    path: Path,
    org: str,
    customer: str | None,
    agent: str | None,
    top_k: int,
    include_superseded: bool,
    mode: str,
    make_scope: Callable[..., Any],
) -> int:
    """Run every query of ``path``; one JSON line each on stdout. Returns the number of queries."""
    from servers.memory_server.models import MemoryOut
    from servers.memory_server.ranking import RankOptions
    from servers.memory_server.service import get_service

    if mode not in ("hybrid", "lexical", "dense"):
        raise invalid("--mode must be hybrid, lexical or dense")
    queries = read_queries(path, customer, agent, top_k)
    scopes = {(q["customer"], q["agent_id"]): make_scope(org, q["customer"], q["agent_id"]) for q in queries}
    service = get_service()
    for q in queries:
        opts = RankOptions(top_k=q["top_k"], include_superseded=include_superseded, mode=mode)
        hits = await service.search(scopes[(q["customer"], q["agent_id"])], q["query"], opts)
        results = [{**MemoryOut.of(h.doc).model_dump(mode="json"), "score": h.score} for h in hits]
        line = {"id": q["id"], "query": q["query"], "customer": q["customer"], "results": results}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return len(queries)


async def embed_pending(service: Any, bar: Any) -> int:
    """Compute every pending vector now with a progress bar; returns how many were stored."""
    from servers.memory_server.vectors import VectorWorker

    total = await service.pending_vectors()
    if total == 0:
        return 0
    worker = VectorWorker(service, batch=32)
    task = bar.add_task("embedding", total=total)
    await worker.start(backlog=True)
    try:
        while worker.pending or not worker._idle.is_set():
            bar.update(task, completed=worker.embedded)
            await asyncio.sleep(0.3)
        bar.update(task, completed=worker.embedded)
    finally:
        await worker.stop()
    return worker.embedded
