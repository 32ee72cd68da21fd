"""How often the instruction detector fires on data nobody here wrote (false refusals, hidden sentences).

    .venv/bin/python bench/instruction_hits.py [--quick] [--save FILE] [--against FILE]

The memory server refuses a memory that gives orders to the assistant, and the offline planner
never reads such a KB sentence out (``registry/instructions.py``). Benign text it matches is a
false positive: a customer's fact refused, a policy sentence hidden. Side by side, per data set:
the production detector, and the baseline of every registry lint phrase (tool-definition phrases
such as '몰래' / 'secretly' included) plus the same operational orders. Data: KorQuAD 1.0 dev and
SQuAD 1.1 dev paragraphs, every LongMemEval turn under ``../shared/data/memory/longmemeval``, and
``bench/data/memory_ko`` turns, and the demo KB's lines (``servers/kb_server/demo_docs``: the
offline planner never reads out a line the detector matches). ``--quick``: the first 300 texts of
each. Writes bench/results/instruction_hits.json.

New hits of a changed detector: ``--save FILE`` writes every matched text (data set, text, phrase)
to FILE; run the old detector with ``--save old.json``, the new one with ``--against old.json``,
and the texts only the new one matches are listed (``new_hits`` per data set).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, print_table, started_at, write_result

SHARED = ROOT.parent / "shared" / "data"


def _strings(node: object, keys: tuple[str, ...]) -> list[str]:
    if isinstance(node, dict):
        out: list[str] = []
        for key, value in node.items():
            out += [value] if key in keys and isinstance(value, str) else _strings(value, keys)
        return out
    if isinstance(node, list):
        return [s for item in node for s in _strings(item, keys)]
    return []


def data_sets() -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for name, file in (("korquad", "KorQuAD_v1.0_dev.json"), ("squad", "squad_v1.1_dev.json")):
        path = SHARED / "retrieval" / file
        if path.exists():
            sets[name] = _strings(json.loads(path.read_text(encoding="utf-8")), ("context",))
    turns: list[str] = []
    for path in sorted((SHARED / "memory" / "longmemeval").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else []:
            turns += _strings(item.get("haystack_sessions", []), ("content",))
    if turns:
        sets["longmemeval"] = turns
    sets["memory_ko"] = _strings(
        json.loads((ROOT / "bench" / "data" / "memory_ko" / "memory_ko.json").read_text(encoding="utf-8")),
        ("text", "content"),
    )
    kb = ROOT / "servers" / "kb_server" / "demo_docs"
    sets["demo_kb"] = [
        line.strip()
        for doc in sorted(kb.glob("*.md"))
        for line in doc.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return sets


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 300 texts of each data set")
    parser.add_argument("--save", type=Path, help="write every matched text to this JSON file")
    parser.add_argument("--against", type=Path, help="list the matched texts this earlier --save file does not hold")
    return parser.parse_args()


def baseline() -> object:
    """Every lint phrase (tool-definition ones and the operational orders included)."""
    from registry import lint

    korean = [re.compile(p, re.I) for p in lint.KOREAN_PHRASES]
    english = [re.compile(p, re.I | re.S) for p in lint.ENGLISH_PHRASES]

    def find(text: str) -> str | None:
        normal = lint.normalise_for_matching(text)
        for pattern in english:
            if found := pattern.search(normal):
                return found.group(0)
        compact = re.sub(r"\s+", "", normal)
        for pattern in korean:
            if found := pattern.search(compact):
                return found.group(0)
        return None

    return find


def main() -> int:
    args = parse_args()
    from registry.instructions import instructs

    started = started_at()
    everything = baseline()
    before = (
        {(h["set"], h["text"]) for h in json.loads(args.against.read_text(encoding="utf-8"))} if args.against else None
    )
    metrics: dict[str, float] = {}
    rows = []
    matched: list[dict[str, str]] = []
    new: list[dict[str, str]] = []
    for name, texts in data_sets().items():
        texts = texts[:300] if args.quick else texts
        ours: collections.Counter[str] = collections.Counter()
        base = fresh = 0
        for text in texts:
            if found := instructs(text):
                ours[found.lower()[:30]] += 1
                matched.append({"set": name, "text": text, "phrase": found})
                if before is not None and (name, text) not in before:
                    fresh += 1
                    new.append(matched[-1])
            base += everything(text) is not None  # type: ignore[operator]
        hits = sum(ours.values())
        metrics[f"{name}_texts"], metrics[f"{name}_hits"], metrics[f"{name}_hits_all_lint"] = len(texts), hits, base
        if before is not None:
            metrics[f"{name}_new_hits"] = fresh
        rows.append(
            [
                name,
                len(texts),
                base,
                hits,
                "-" if before is None else fresh,
                ", ".join(f"{k} ×{v}" for k, v in ours.most_common(4)),
            ]
        )
    print_table(
        "texts the instruction detector matches (benign data: each is a false positive or a real jailbreak line)",
        ["data set", "texts", "all lint phrases", "production", "new", "most common production matches"],
        rows,
    )
    if args.save:
        args.save.write_text(json.dumps(matched, ensure_ascii=False, indent=1), encoding="utf-8")
    for hit in new:
        print(f"new hit [{hit['set']}] {hit['phrase']!r}: {hit['text'][:300]!r}")
    write_result("instruction_hits", metrics, quick=args.quick, started=started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
