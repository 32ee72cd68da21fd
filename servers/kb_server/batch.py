"""``switchboard kb search --file``: many searches in one process, one JSON line per query."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from servers.retrieval.queryfile import read_queries, write_line


async def search_file(path: Path, org: str, top_k: int, kb_refs: Sequence[str] | None) -> int:
    """Run every query of ``path`` against the org's active KBs; returns the number of queries."""
    from servers.kb_server.lookups import cli_list_hint, resolve_targets
    from servers.kb_server.search import search

    queries = read_queries(path, top_k)
    targets = await resolve_targets(org, kb_refs, list_hint=cli_list_hint(org)) if kb_refs else None
    for q in queries:
        hits = await search(org, q["query"], top_k=q["top_k"], kb_refs=kb_refs, targets=targets)
        write_line({"id": q["id"], "query": q["query"], "results": hits})
    return len(queries)
