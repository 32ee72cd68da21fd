"""What the offline planner reads out for a KB question, and when it should say it found nothing.

    .venv/bin/python bench/kb_answers.py [--quick]

Loads the demo KB (``servers/kb_server/demo_docs``) into a throwaway home, embeds it, and for each
question of the labelled set ``host/data/kb_questions.tsv`` (dev and held-out splits; ``answer``
rows name the documents that hold the answer, ``none`` rows are questions the KB does not answer)
runs the KB search and :func:`host.answer.answer_from`, side by side with the choice the planner
made before it had a relevance check (the first hit with a sentence, whatever it said). Prints per
split and language: answer rows read out from a right document / a wrong one / "not found", and
none rows read out (a wrong answer said with a citation) / "not found"; and the search's own hit@1.
``--quick`` runs the dev split only.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from typing import Any

from _common import parse_args, print_table, started_at, write_result

from host.answer import answer_from, best_sentence
from host.labelled import KbQuestion, labelled_questions


def first_with_a_sentence(hits: list[dict[str, Any]], query: str) -> tuple[dict[str, Any], str] | None:
    """The planner's choice before the relevance check: the first hit with anything to read out."""
    for hit in hits:
        if hit.get("text") and (sentence := best_sentence(str(hit["text"]), query)):
            return hit, sentence
    return None


def outcome(row: KbQuestion, chosen: tuple[dict[str, Any], str] | None) -> str:
    if row.label == "none":
        return "not found" if chosen is None else "read out"
    if chosen is None:
        return "not found"
    return "right doc" if chosen[0].get("doc_id") in row.doc_ids else "wrong doc"


async def run(splits: tuple[str, ...]) -> dict[str, Any]:
    from core.db import dispose_engines
    from core.settings import reload_settings
    from servers.kb_server.demo import load_demo
    from servers.kb_server.search import search
    from servers.kb_server.vectors import embed_all

    rows = labelled_questions(*splits)
    counts: dict[str, Counter[tuple[str, str, str, str]]] = {"ours": Counter(), "before": Counter()}
    top1: Counter[tuple[str, str]] = Counter()
    answer_rows: Counter[tuple[str, str]] = Counter()
    with tempfile.TemporaryDirectory(prefix="sb-bench-kb-answers-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
        reload_settings()
        await load_demo("bench")
        await embed_all(org_id="bench")
        for row in rows:
            hits = await search("bench", row.question, top_k=5)
            for name, choose in (("ours", answer_from), ("before", first_with_a_sentence)):
                counts[name][(row.split, row.lang, row.label, outcome(row, choose(hits, row.question)))] += 1
            if row.label == "answer":
                answer_rows[(row.split, row.lang)] += 1
                top1[(row.split, row.lang)] += bool(hits) and hits[0].get("doc_id") in row.doc_ids
        await dispose_engines()
    return {"rows": rows, "counts": counts, "top1": top1, "answer_rows": answer_rows}


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    started = started_at()
    splits = ("dev",) if args.quick else ("dev", "held_out")
    result = asyncio.run(run(splits))
    counts, metrics = result["counts"], {}
    table = []
    for split in splits:
        for lang in ("ko", "en"):
            n_answer = result["answer_rows"][(split, lang)]
            n_none = sum(1 for r in result["rows"] if (r.split, r.lang, r.label) == (split, lang, "none"))
            if not n_answer and not n_none:
                continue
            for name in ("before", "ours"):
                c = counts[name]
                right, wrong, missed = (c[(split, lang, "answer", o)] for o in ("right doc", "wrong doc", "not found"))
                read, held = (c[(split, lang, "none", o)] for o in ("read out", "not found"))
                table.append([f"{split} {lang} · {name}", n_answer, right, wrong, missed, n_none, read, held])
                key = f"{split}_{lang}_{name}"
                metrics[f"{key}_answered_right"] = right / n_answer if n_answer else None
                metrics[f"{key}_answered_wrong"] = wrong / n_answer if n_answer else None
                metrics[f"{key}_none_read_out"] = read / n_none if n_none else None
            metrics[f"{split}_{lang}_search_hit_at_1"] = result["top1"][(split, lang)] / n_answer if n_answer else None
    print_table(
        "KB answers read out by the offline planner (before: no relevance check)",
        [
            "split · reader",
            "answerable",
            "right doc",
            "wrong doc",
            "not found",
            "unanswerable",
            "read out",
            "not found",
        ],
        table,
    )
    print_table(
        "the search alone: the top hit is a document that answers",
        ["split", "hit@1"],
        [[f"{s} {lang}", metrics.get(f"{s}_{lang}_search_hit_at_1")] for s in splits for lang in ("ko", "en")],
    )
    path = write_result("kb_answers", metrics, quick=args.quick, started=started)
    print(f"written {path}")


if __name__ == "__main__":
    main()
