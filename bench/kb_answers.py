"""What the offline planner reads out for a KB question, and when it should say it found nothing.

    .venv/bin/python bench/kb_answers.py [--quick]

Three KBs, each searched with the production search and read by :func:`host.answer.answer_from`:

- the demo KB (``servers/kb_server/demo_docs``) and the labelled set ``host/data/kb_questions.tsv``
  (dev and held-out splits; ``answer`` rows name the documents that hold the answer, ``none`` rows
  are questions the KB does not answer);
- KorQuAD 1.0 dev and SQuAD 1.1 dev (``../shared/data/retrieval``, data this project did not
  write): articles in a seeded order, every other paragraph of the first ones indexed as a document
  (titled by its article) until ``PARAGRAPHS`` are; a question on an indexed paragraph is
  answerable (right = that paragraph), one on a skipped paragraph of the same article is an
  unanswerable question on the KB's topics ("same article"; a few are answered by a neighbouring
  paragraph, so this line is a bound), one on an article not indexed is off-topic ("other article").

Side by side: ``no check`` (the first hit with a sentence, whatever it said), ``before`` (the word
check alone: a Korean question's passage must share a word with it) and ``ours`` (plus the
answerability check, :func:`host.answer.answers`). Prints per set: answerable rows read out from a
right document / a wrong one / "not found", unanswerable rows read out (a wrong answer said with a
citation) / "not found"; and the search's own hit@1. ``--quick`` runs the dev split and smaller
KorQuAD/SQuAD KBs. Vectors are cached under bench/.cache (the first full run embeds ~600
paragraphs and their sentences: ~15 minutes on two shared cores).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _common import ROOT, parse_args, print_table, started_at, write_result

from host.answer import answer_from, best_sentence, shares_content
from host.labelled import labelled_questions

DATA = ROOT.parent / "shared" / "data" / "retrieval"
QA_FILES = {"korquad": ("KorQuAD_v1.0_dev.json", "ko"), "squad": ("squad_v1.1_dev.json", "en")}
PARAGRAPHS, QUESTIONS = 300, 200  # indexed paragraphs per QA KB; questions per kind
QUICK_PARAGRAPHS, QUICK_QUESTIONS = 100, 60
SEED = 7

Chosen = tuple[dict[str, Any], str] | None


@dataclass(slots=True)
class Row:
    group: str  # "dev ko", "korquad ko", ...
    label: str  # answer | none_same | none_other (the labelled set's none rows are none_same)
    question: str
    doc_ids: frozenset[str] = frozenset()
    hits: list[dict[str, Any]] = field(default_factory=list)


def no_check(hits: list[dict[str, Any]], query: str) -> Chosen:
    """The first hit with anything to read out."""
    for hit in hits:
        if hit.get("text") and (sentence := best_sentence(str(hit["text"]), query)):
            return hit, sentence
    return None


def word_check(hits: list[dict[str, Any]], query: str) -> Chosen:
    """The choice before the answerability check: the first hit sharing a word with the question."""
    for hit in hits:
        if hit.get("text") and shares_content(query, hit) and (sentence := best_sentence(str(hit["text"]), query)):
            return hit, sentence
    return None


READERS: dict[str, Callable[[list[dict[str, Any]], str], Chosen]] = {
    "no check": no_check,
    "before": word_check,
    "ours": answer_from,
}


def outcome(row: Row, chosen: Chosen) -> str:
    if row.label != "answer":
        return "not found" if chosen is None else "read out"
    if chosen is None:
        return "not found"
    return "right doc" if chosen[0].get("doc_id") in row.doc_ids else "wrong doc"


def qa_material(name: str, paragraphs: int, questions: int) -> tuple[list[tuple[str, str, str]], list[Row]]:
    """([(doc_id, title, paragraph)] to index, question rows) for KorQuAD or SQuAD (see the docstring)."""
    filename, lang = QA_FILES[name]
    articles = json.loads((DATA / filename).read_text(encoding="utf-8"))["data"]
    rng = random.Random(SEED)
    rng.shuffle(articles)
    indexed: list[tuple[str, str, str]] = []
    asked: dict[str, list[tuple[str, str]]] = {"answer": [], "none_same": [], "none_other": []}
    for a, article in enumerate(articles):
        title = str(article["title"]).replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            doc_id = f"a{a}-p{p}"
            if len(indexed) >= paragraphs and (p == 0 or not indexed[-1][0].startswith(f"a{a}-")):
                kind = "none_other"
            elif p % 2 == 0:
                indexed.append((doc_id, title, para["context"]))
                kind = "answer"
            else:
                kind = "none_same"
            asked[kind].extend((qa["question"], doc_id) for qa in para["qas"])
    rows = [
        Row(f"{name} {lang}", kind, q, frozenset({d}) if kind == "answer" else frozenset())
        for kind, items in asked.items()
        for q, d in rng.sample(items, min(questions, len(items)))
    ]
    return indexed, rows


async def run(quick: bool) -> list[Row]:
    from bench.vcache import DiskCachedEmbedder
    from core.db import dispose_engines
    from core.settings import reload_settings
    from servers.kb_server.demo import load_demo
    from servers.kb_server.search import search
    from servers.kb_server.store import UploadItem, create_kb, upload
    from servers.kb_server.vectors import embed_all
    from servers.retrieval.embedding import get_embedder

    splits = ("dev",) if quick else ("dev", "held_out")
    paragraphs, questions = (QUICK_PARAGRAPHS, QUICK_QUESTIONS) if quick else (PARAGRAPHS, QUESTIONS)
    rows = [
        Row(f"{r.split} {r.lang}", "answer" if r.label == "answer" else "none_same", r.question, frozenset(r.doc_ids))
        for r in labelled_questions(*splits)
    ]
    embedder = DiskCachedEmbedder(get_embedder())
    with tempfile.TemporaryDirectory(prefix="sb-bench-kb-answers-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
        reload_settings()
        await load_demo("bench")
        await embed_all(org_id="bench", embedder=embedder)
        for row in rows:
            row.hits = await search("bench", row.question, top_k=5, embedder=embedder)
        for name in QA_FILES:
            indexed, qa_rows = qa_material(name, paragraphs, questions)
            await create_kb(name, name)
            items = [UploadItem(f"{d}.txt", text.encode("utf-8"), doc_id=d, title=title) for d, title, text in indexed]
            await upload(name, name, items)
            await embed_all(org_id=name, embedder=embedder)
            for row in qa_rows:
                row.hits = await search(name, row.question, top_k=5, embedder=embedder)
            rows.extend(qa_rows)
        await dispose_engines()
    embedder.flush()
    return rows


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    started = started_at()
    rows = asyncio.run(run(args.quick))
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for row in rows:
        for name, read in READERS.items():
            counts[(name, row.group, row.label, outcome(row, read(row.hits, row.question)))] += 1
    groups = list(dict.fromkeys(r.group for r in rows))
    sizes = Counter((r.group, r.label) for r in rows)
    metrics: dict[str, Any] = {}
    table = []
    for group in groups:
        key = group.replace(" ", "_")
        n_answer = sizes[(group, "answer")]
        for label in ("none_same", "none_other"):
            n_none = sizes[(group, label)]
            if not n_none:
                continue
            for name in READERS:
                c = counts
                right, wrong, missed = (c[(name, group, "answer", o)] for o in ("right doc", "wrong doc", "not found"))
                read, held = (c[(name, group, label, o)] for o in ("read out", "not found"))
                first = label == "none_same"
                kind = "" if group.startswith(("dev", "held")) else (" · same article" if first else " · other article")
                answerable = [n_answer, right, wrong, missed] if first else ["", "", "", ""]
                table.append([f"{group}{kind} · {name}", *answerable, n_none, read, held])
                slug = f"{key}_{name.replace(' ', '_')}"
                if first:
                    metrics[f"{slug}_answered_right"] = right / n_answer if n_answer else None
                    metrics[f"{slug}_answered_wrong"] = wrong / n_answer if n_answer else None
                metrics[f"{slug}_{label}_read_out"] = read / n_none
        hits = [r for r in rows if r.group == group and r.label == "answer"]
        metrics[f"{key}_search_hit_at_1"] = (
            sum(bool(r.hits) and r.hits[0].get("doc_id") in r.doc_ids for r in hits) / len(hits) if hits else None
        )
    print_table(
        "KB answers read out by the offline planner (before: word check only; no check: the first hit)",
        ["set · reader", "answerable", "right doc", "wrong doc", "not found", "unanswerable", "read out", "not found"],
        table,
    )
    print_table(
        "the search alone: the top hit is a document that answers",
        ["set", "hit@1"],
        [[g, metrics.get(f"{g.replace(' ', '_')}_search_hit_at_1")] for g in groups],
    )
    path = write_result("kb_answers", metrics, quick=args.quick, started=started)
    print(f"written {path}")


if __name__ == "__main__":
    main()
