"""Kiwi with and without its multi-word and default dictionaries: time to be ready, and keyword recall on KorQuAD.

    .venv/bin/python bench/kiwi_multidict.py [--quick]

Why it exists: ``servers.retrieval.korean`` creates kiwi with ``load_multi_dict=False``. With the
dictionary, kiwi takes about three times as long to be ready (constructor plus the first
``tokenize``, which builds its caches), and it emits multi-word names as one token with a space
("알렉산더 헤이그"). The stored lexical index splits tokens at spaces, a query did not, so the name
never matched. Three readings side by side, each in its own process (kiwi is a singleton):

- ``multi``: kiwi's default (multi-word dictionary on), query tokens as kiwi gives them (the old path);
- ``multi+split``: the dictionary on, query tokens split at spaces like the index;
- ``no multi``: the dictionary off (production until 2026-12-05);
- ``no multi, no default``: kiwi's default dictionary (3 MB of extra words and names) off too
  (production): ready in about half the time again, the same recall within .001.

Ready time is measured in fresh processes, interleaved round by round. Recall is BM25 (the
production ``StaticBM25`` and ``tokenize``) over the 964 KorQuAD 1.0 dev passages for all 5,774
questions (``--quick``: the first 150 passages and their questions). Writes
bench/results/kiwi_multidict.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, median, parse_args, print_table, ratio, started_at, write_result

KORQUAD = ROOT.parent / "shared" / "data" / "retrieval" / "KorQuAD_v1.0_dev.json"
# name: (multi-word dictionary, default dictionary, query tokens split at spaces)
VARIANTS = {
    "multi": (True, True, False),
    "multi+split": (True, True, True),
    "no multi": (False, True, True),
    "no multi, no default": (False, False, True),
}
READY = {"multi": (True, True), "no multi": (False, True), "no multi, no default (production)": (False, False)}

_READY = """
import time
t = time.perf_counter()
from kiwipiepy import Kiwi
kiwi = Kiwi(load_multi_dict={multi}, load_default_dict={default})
kiwi.tokenize("환불은 언제 처리되나요")
print(time.perf_counter() - t)
"""


def ready_seconds(multi: bool, default: bool) -> float:
    code = _READY.format(multi=multi, default=default)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def recall(multi: bool, default: bool, split: bool, passages: int | None) -> dict[str, float]:
    """R@1 / R@5 of BM25 in a child process (kiwi is created once per process)."""
    code = f"""
import json, kiwipiepy
_Kiwi = kiwipiepy.Kiwi
# the variant's settings win over the ones servers.retrieval.korean passes
kiwipiepy.Kiwi = lambda *a, **k: _Kiwi(*a, **{{**k, "load_multi_dict": {multi}, "load_default_dict": {default}}})
from servers.retrieval import korean
from servers.retrieval.lexical import StaticBM25
data = json.load(open({str(KORQUAD)!r}, encoding="utf-8"))
texts, questions = [], []
for article in data["data"]:
    for paragraph in article["paragraphs"]:
        if {passages!r} is not None and len(texts) >= {passages!r}:
            break
        gold = str(len(texts))
        texts.append(paragraph["context"])
        questions += [(q["question"], gold) for q in paragraph["qas"]]
ids = [str(i) for i in range(len(texts))]
index = StaticBM25.build(ids, [" ".join(t).split() for t in korean.tokenize_many(texts)])  # as stored
kiwi, userdict = korean._load()


def unsplit(question):
    # the query path before the fix: a multi-word form stayed one token with a space in it
    text, out = korean.clean(question), []
    for token in kiwi.tokenize(text):
        parts = korean._from_kiwi("", [token], userdict.canonical, userdict.expansions)
        out += [" ".join(parts)] if " " in token.form and parts else parts
    return out + korean.ascii_words(text, userdict.canonical)


hits1 = hits5 = 0
for question, gold in questions:
    tokens = korean.tokenize(question) if {split} else unsplit(question)
    found = [chunk for chunk, _ in index.search(tokens, 5)]
    hits1 += bool(found) and found[0] == gold
    hits5 += gold in found
print(json.dumps({{"questions": len(questions), "r1": hits1 / len(questions), "r5": hits5 / len(questions)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    if not KORQUAD.exists():
        print(f"error: {KORQUAD} not found (the shared data directory must sit beside the repo)", file=sys.stderr)
        return 2
    started = started_at()
    rounds = 3 if args.quick else 7
    times: dict[str, list[float]] = {name: [] for name in READY}
    for _ in range(rounds):
        for name, (multi, default) in READY.items():
            times[name].append(ready_seconds(multi, default))
    passages = 150 if args.quick else None
    t0 = time.perf_counter()
    scores = {name: recall(multi, default, split, passages) for name, (multi, default, split) in VARIANTS.items()}
    ready = {name: median(values) for name, values in times.items()}
    metrics: dict[str, float] = {
        "ready_s_multi": ready["multi"],
        "ready_s_no_multi": ready["no multi"],
        "ready_s_no_multi_no_default": ready["no multi, no default (production)"],
        "ready_ratio_no_multi_to_multi": ratio(ready["no multi"], ready["multi"]),
        "ready_ratio_no_default_to_no_multi": ratio(ready["no multi, no default (production)"], ready["no multi"]),
        "questions": scores["multi"]["questions"],
        "recall_seconds": time.perf_counter() - t0,
    }
    for name, score in scores.items():
        key = name.replace(", ", "_").replace(" ", "_").replace("+", "_")
        metrics[f"r1_{key}"], metrics[f"r5_{key}"] = score["r1"], score["r5"]
    print_table(
        f"kiwi ready time (median of {rounds} fresh processes each, interleaved)",
        ["variant", "ready s", "/ multi"],
        [[name, value, ratio(value, ready["multi"])] for name, value in ready.items()],
    )
    print_table(
        f"BM25 over KorQuAD dev, {metrics['questions']} questions",
        ["variant", "R@1", "R@5"],
        [[name, s["r1"], s["r5"]] for name, s in scores.items()],
    )
    write_result("kiwi_multidict", metrics, quick=args.quick, started=started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
