"""``switchboard kb search --file``: many searches in one process, one JSON line per query."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    keyword_only_note(org, await keyword_only(org, targets or await resolve_targets(org, None)))
    return len(queries)


async def keyword_only(org: str, targets: Sequence[dict[str, Any]]) -> list[str]:
    """The KBs of ``targets`` searched by keyword only in part (vectors not all computed yet), each
    as 'name (done of total passages)'."""
    from servers.kb_server.vectors import progress_counts
    from servers.retrieval.embedding import get_embedder

    behind = []
    model_id = get_embedder().model_id
    for t in targets:
        done, total = await progress_counts(org, t["id"], t["version"], model_id, only=model_id)
        if done < total:
            behind.append(f"{t['name']} ({done} of {total} passages)")
    return behind


def keyword_only_note(org: str, behind: list[str]) -> None:
    """Say on stderr which KBs were searched by keyword only where vectors are missing."""
    from rich.markup import escape

    from core.cliutil import err_console

    if behind:
        err_console.print(
            f"[yellow]searched by keyword only where vectors are missing: {escape(', '.join(behind))}; "
            f"run `switchboard kb embed --org {escape(org)}` (or serve the KB) for search by meaning[/]",
            soft_wrap=True,
        )
