"""Confirmation replies: how the host reads '네', '아니요, 8842번이에요', '어떻게 되는 거예요?'.

    .venv/bin/python bench/confirm.py [--quick]

Runs :func:`host.replies.read_reply` over the labelled set in ``host/data/`` (dev, held-out and
hostile splits, Korean and English) and, side by side, the prefix match the host used before issue 11
(a reply counted as yes when it *started* with 네/어/예/응/...). Prints the confusion matrix (rows:
label, columns: reading), false confirms (a write would have run), the recall of clear yes (goal
≥ 97 %) per split and language, and the classification time per reply (kiwi loaded beforehand; its
one-off load time is reported apart). ``--quick`` times 3 passes instead of 20.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from _common import parse_args, percentile, print_table, ratio, started_at, write_result

from host.labelled import LABELLED_EXPECTED, SPLITS, LabelledReply, labelled_replies
from host.replies import ReplyLabel, read_reply
from host.replies import _load as load_kiwi

LABELS = [label.value for label in ReplyLabel]

# the reading the host shipped before issue 11: a prefix match (host/nlu.py at 2f6b5a9)
_OLD_YES = re.compile(
    r"^\s*(네|넵|넹|예|응|어|그래|맞|좋아|좋습니다|그렇습니다|그렇죠|확인했|진행해|조회해|부탁)"
    r"|^\s*(yes|yeah|yep|yup|sure|ok|okay|correct|right|go ahead|please do|confirm)\b",
    re.IGNORECASE,
)
_OLD_NO = re.compile(
    r"^\s*(아니|아뇨|아닙니다|아니에요|아니요|틀려|틀렸|잘못|취소|싫|안\s*돼|하지\s*마)"
    r"|^\s*(no|nope|nah|wrong|cancel|don't|do not|stop)\b",
    re.IGNORECASE,
)


def prefix_reading(text: str) -> str:
    if _OLD_NO.search(text):
        return "deny"
    if _OLD_YES.search(text):
        return "confirm"
    return "unclear"


def ours(text: str) -> str:
    return read_reply(text, expected=LABELLED_EXPECTED).label.value


def evaluate(rows: list[LabelledReply], reader: Callable[[str], str]) -> dict[str, Any]:
    matrix: Counter[tuple[str, str]] = Counter()
    for row in rows:
        matrix[(row.label.value, reader(row.text))] += 1
    yes = sum(n for (label, _), n in matrix.items() if label == "confirm")
    false_confirms = sum(n for (label, got), n in matrix.items() if got == "confirm" and label != "confirm")
    return {
        "matrix": matrix,
        "n": len(rows),
        "accuracy": ratio(sum(n for (a, b), n in matrix.items() if a == b), len(rows)),
        "yes_recall": ratio(matrix[("confirm", "confirm")], yes),
        "false_confirms": false_confirms,
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    started = started_at()
    t0 = time.perf_counter()
    load_kiwi()
    load_s = time.perf_counter() - t0
    rows = labelled_replies()
    halves = {
        f"{split} {lang}": [r for r in rows if r.split == split and r.language == lang]
        for split in SPLITS
        for lang in ("ko", "en")
    }
    metrics: dict[str, Any] = {"kiwi_load_s": round(load_s, 2), "replies": len(rows)}
    table_rows = []
    for name, subset in [("all", rows), *halves.items()]:
        mine, old = evaluate(subset, ours), evaluate(subset, prefix_reading)
        key = name.replace(" ", "_")
        metrics.update(
            {
                f"{key}_n": mine["n"],
                f"{key}_accuracy": round(mine["accuracy"], 4),
                f"{key}_yes_recall": round(mine["yes_recall"], 4),
                f"{key}_false_confirms": mine["false_confirms"],
                f"{key}_prefix_false_confirms": old["false_confirms"],
                f"{key}_prefix_yes_recall": round(old["yes_recall"], 4),
            }
        )
        table_rows.append(
            [name, mine["n"], mine["accuracy"], mine["yes_recall"], mine["false_confirms"],
             old["yes_recall"], old["false_confirms"]]
        )  # fmt: skip
    print_table(
        "confirmation replies: ours vs the old prefix match",
        ["set", "replies", "accuracy", "yes recall", "false confirms", "prefix yes recall", "prefix false confirms"],
        table_rows,
    )
    matrix = evaluate(rows, ours)["matrix"]
    print_table(
        "confusion matrix, all replies (rows: label, columns: reading)",
        ["label", *LABELS],
        [[label, *(matrix[(label, got)] for got in LABELS)] for label in LABELS],
    )
    for label in LABELS:
        for got in LABELS:
            metrics[f"matrix_{label}_as_{got}"] = matrix[(label, got)]

    passes = 3 if args.quick else 20
    timings: list[float] = []
    for _ in range(passes):
        for row in rows:
            start = time.perf_counter()
            ours(row.text)
            timings.append((time.perf_counter() - start) * 1e6)
    old_timings: list[float] = []
    for row in rows:
        start = time.perf_counter()
        prefix_reading(row.text)
        old_timings.append((time.perf_counter() - start) * 1e6)
    metrics.update(
        {
            "classify_p50_us": round(percentile(timings, 50), 1),
            "classify_p99_us": round(percentile(timings, 99), 1),
            "prefix_p50_us": round(percentile(old_timings, 50), 1),
            "classify_vs_prefix_p50_ratio": round(ratio(percentile(timings, 50), percentile(old_timings, 50)), 1),
        }
    )
    print_table(
        "classification time per reply (kiwi loaded)",
        ["reader", "p50 µs", "p99 µs"],
        [["ours (kiwi + rules)", metrics["classify_p50_us"], metrics["classify_p99_us"]],
         ["prefix match", metrics["prefix_p50_us"], round(percentile(old_timings, 99), 1)]],
    )  # fmt: skip
    print(f"kiwi load (once per process): {load_s:.1f} s")
    path = write_result("confirm", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
