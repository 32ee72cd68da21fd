"""Batch work for the CLI: many searches in one process, and computing pending vectors now.

``switchboard memory search --file queries.jsonl`` reads ``{"query", "customer"?, "agent_id"?,
"top_k"?, "id"?, "asked_at"?}`` per line (``asked_at``: when the question is asked, ISO 8601 with
a time zone; "two weeks ago" in it counts from there, default now). The whole file is checked
first; then the models load once and one compact JSON line per query is printed: ``{"id",
"query", "customer", "time_window", "results": [...]}`` with the same fields as the MCP tool's
results (``source_message_id`` maps a hit back to your turn ids; ``time_window``: the time the
question names and the span it was read as, or null).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import invalid
from servers.memory_server.filters import time_range_problem
from servers.retrieval.queryfile import read_queries, write_line


def read_memory_queries(path: Path, customer: str | None, agent: str | None, top_k: int) -> list[dict[str, Any]]:
    out = []
    for item in read_queries(path, top_k):
        who = item.get("customer", customer)
        agent_id = item.get("agent_id", agent)
        for label, value in (("customer", who), ("agent_id", agent_id)):
            if value is not None and not isinstance(value, str):
                raise invalid(f"{path.name}:{item['line']}: `{label}` must be a string")
        if not who and not agent_id:
            raise invalid(f"{path.name}:{item['line']}: no `customer` on the line and no --customer given")
        out.append({**item, "customer": who, "agent_id": agent_id, "reference": _asked_at(path, item)})
    return out


def _asked_at(path: Path, item: dict[str, Any]) -> float | None:
    """``asked_at`` of a line (ISO 8601 with a time zone) as epoch seconds; None when absent."""
    raw = item.get("asked_at")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid(f"{path.name}:{item['line']}: asked_at must be an ISO date-time with a time zone")
    if problem := time_range_problem(moment):
        raise invalid(f"{path.name}:{item['line']}: asked_at {problem}")
    return moment.timestamp()


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
    from servers.memory_server.reads import question_window
    from servers.memory_server.service import get_service

    if mode not in ("hybrid", "lexical", "dense"):
        raise invalid("--mode must be hybrid, lexical or dense")
    queries = read_memory_queries(path, customer, agent, top_k)
    scopes = {(q["customer"], q["agent_id"]): make_scope(org, q["customer"], q["agent_id"]) for q in queries}
    service = get_service()
    for q in queries:
        opts = RankOptions(top_k=q["top_k"], include_superseded=include_superseded, mode=mode, reference=q["reference"])
        hits = await service.search(scopes[(q["customer"], q["agent_id"])], q["query"], opts)
        results = [{**MemoryOut.of(h.doc).model_dump(mode="json"), "score": h.score} for h in hits]
        window = question_window(q["query"], opts)
        write_line(
            {
                "id": q["id"],
                "query": q["query"],
                "customer": q["customer"],
                "time_window": window.as_json() if window else None,
                "results": results,
            }
        )
    await keyword_only_note(service, list(scopes.values()), mode)
    return len(queries)


async def keyword_only_note(service: Any, scopes: list[Any], mode: str) -> None:
    """On stderr, when the scopes searched hold memories still waiting for a vector (e.g. after
    ``memory import --no-embed``): those were found by keyword only, whatever ``mode`` says."""
    from core.cliutil import err_console
    from servers.memory_server.status import scope_vectors

    if mode == "lexical" or not service.vectors:
        return
    done = pending = 0
    for scope in {s.key: s for s in scopes}.values():
        counts = scope_vectors(await service.index(scope.key), True)
        done, pending = done + counts.done, pending + counts.pending
    if pending:
        err_console.print(
            f"note: searched by keyword only where vectors are missing: {pending} of {done + pending} memories "
            "searched have no vector yet (`memory status` counts them). A running `switchboard serve memory` "
            "computes them, or run `switchboard memory import FILE` again without --no-embed",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


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
