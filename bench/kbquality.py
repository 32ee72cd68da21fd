"""KB retrieval quality on several data sets at once, and the fusion chosen across them.

Used by ``bench/kb.py --parts quality``. Data sets (corpus → query → relevant passages):

- ``korquad`` — KorQuAD 1.0 dev: unique paragraphs, a seeded sample of questions;
- ``squad`` — SQuAD 1.1 dev, the same way (English);
- ``korquad_chat`` — the memory benchmark's Korean chat set (bench/memsets.py): every sentence
  of 160 KorQuAD paragraphs is a passage, a question's relevant passages are the sentences that
  hold its answer (short passages, fewer shared words than a whole paragraph).

KorQuAD and SQuAD questions were written while looking at the paragraph, so they reuse its
words; natural questions (what people type into a search box) do not. As a proxy, each of the
two is split by *lexical overlap* — the share of the question's kiwi terms that occur in its
paragraph — into ``<set>_low`` (the lowest quarter) and ``<set>_rest``. Those five disjoint
groups are the folds of a leave-one-set-out cross-validation: for each group the fusion is
chosen on the other four and scored on it; the default is chosen on all five. The objective
rewards recall@5 and MRR@10 and charges three times any shortfall of recall@5 below the better
of the two halves (kiwi BM25, e5 dense) on each group — "at least as good as the best half".

Every method is computed from the same candidate lists (50 per side); the ``old hybrid`` and
``new hybrid`` rows run the production :func:`servers.kb_server.search.fuse` and
:func:`servers.kb_server.search.skips_dense` per query.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Any

import numpy as np

KS = (1, 5, 10)
SAMPLE = 1500  # questions per KorQuAD/SQuAD run (seeded); the machine is shared
SEED = 17
GROUPS = ("korquad_low", "korquad_rest", "squad_low", "squad_rest", "korquad_chat")
SHOWN = (
    "korquad", "korquad_low", "korquad_rest", "korquad_bm25miss",
    "squad", "squad_low", "squad_rest", "squad_bm25miss", "korquad_chat",
)  # fmt: skip
LEXICAL_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
RRF_KS = (5, 10, 20, 60)
SKIP_RULES = ((1.5, 0.0), (0.3, 0.0), (0.5, 0.0), (0.2, 0.75), (0.3, 0.75), (0.5, 0.75), (0.2, 1.0), (0.3, 1.0))
WEAK_RULES = ((0.0, 1.0), (0.5, 0.5), (0.5, 0.25), (0.67, 0.5), (0.67, 0.25), (0.8, 0.5), (0.8, 0.25))
ALL_WEIGHTS = sorted({w * f for w in LEXICAL_WEIGHTS for _, f in WEAK_RULES})
MISS = 10_000  # the rank of a relevant passage absent from a list


@dataclass
class RetrievalSet:
    name: str
    passages: list[str]
    questions: list[tuple[str, frozenset[int]]]


def load_sets(quick: bool, sample: int = SAMPLE) -> list[RetrievalSet]:
    """korquad, squad (seeded samples of ``sample`` questions, 0 = all; --quick: 100 paragraphs) and korquad_chat."""
    from bench import memsets
    from bench.kbdata import load_dataset

    out = []
    for name in ("korquad", "squad"):
        passages, questions = load_dataset(name)
        if quick:
            passages = passages[:100]
            questions = [q for q in questions if q[1] < 100]
        n = min(len(questions), 150 if quick else (sample or len(questions)))
        picked = sorted(random.Random(SEED).sample(range(len(questions)), n))
        out.append(RetrievalSet(name, passages, [(questions[i][0], frozenset([questions[i][1]])) for i in picked]))
    chat = memsets.load("korquad_chat", quick=quick)
    position: dict[str, int] = {}
    texts: list[str] = []
    for conv in chat["conversations"]:
        for session in conv["sessions"]:
            for turn in session["turns"]:
                position[turn["id"]] = len(texts)
                texts.append(turn["text"])
    chat_questions = [
        (q["question"], frozenset(position[e] for e in q["evidence"]))
        for conv in chat["conversations"]
        for q in conv["questions"]
    ]
    out.append(RetrievalSet("korquad_chat", texts, chat_questions))
    return out


def _first_rank(ranked: list[str] | list[tuple[str, float]], relevant: frozenset[int]) -> int:
    for rank, item in enumerate(ranked[:10], start=1):
        doc = item[0] if isinstance(item, tuple) else item
        if int(doc) in relevant:
            return rank
    return MISS


@dataclass
class Candidates:
    """Everything the fusion sees for each question of one set, plus the ranks of its relevant passages."""

    name: str
    lexical: list[list[tuple[str, float]]]
    dense: list[list[tuple[str, float]]]  # the product's: whole vectors' candidates re-scored with sentences
    shares: list[float]
    coverage: list[float]  # share of the question's terms in BM25's best passage
    overlap: list[float]  # share of the question's terms in its relevant passage (the split)
    hangul: list[bool]
    relevant: list[frozenset[int]]
    ranks: dict[str, np.ndarray]
    dense_whole: list[list[tuple[str, float]]] = field(default_factory=list)  # whole-chunk vectors only (before)


def candidates(ds: RetrievalSet, console) -> Candidates:
    """Whitespace BM25, kiwi BM25 and e5 lists (50 each) for every question of ``ds``."""
    from rich.progress import Progress

    from bench.kbdata import VectorCache, whitespace_tokens
    from bench.vcache import DiskCachedEmbedder
    from servers.kb_server import sentences as kb_sentences
    from servers.kb_server.search import DEFAULT_FUSION, is_hangul_query
    from servers.retrieval.embedding import get_embedder
    from servers.retrieval.korean import tokenize, tokenize_many
    from servers.retrieval.lexical import StaticBM25

    n_cand = DEFAULT_FUSION.candidates
    ids = [str(i) for i in range(len(ds.passages))]
    passage_tokens = tokenize_many(ds.passages)
    passage_sets = [set(t) for t in passage_tokens]
    ws_index = StaticBM25.build(ids, [whitespace_tokens(p) for p in ds.passages], stem=False)  # plain
    kiwi_index = StaticBM25.build(ids, passage_tokens)
    inner = get_embedder()
    embedder = DiskCachedEmbedder(inner)  # query vectors cached across runs
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{ds.name}: passage vectors", total=len(ds.passages))
        mat, new = VectorCache(inner.model_id).embed(ds.passages, inner, progress=lambda n: progress.advance(task, n))
        parts = [kb_sentences.sentence_texts("", p) for p in ds.passages]  # no titles in these sets
        flat = [t for group in parts for t in group]
        task = progress.add_task(f"{ds.name}: sentence vectors", total=len(flat))
        smat, snew = VectorCache(inner.model_id).embed(flat, inner, progress=lambda n: progress.advance(task, n))
    blocks = np.split(smat, np.cumsum([len(group) for group in parts])[:-1])
    by_id = {ids[i]: [ids[i]] for i in range(len(ids))}
    same = {i: i for i in ids}

    def lookup(shas):  # what the product reads from a version's vector file
        return {s: mat[int(s)] for s in shas}, {s: blocks[int(s)] for s in shas if len(blocks[int(s)])}

    console.print(
        f"{ds.name}: {len(ds.passages)} passages, {len(flat)} sentences ({new + snew} newly embedded),"
        f" {len(ds.questions)} questions"
    )
    c = Candidates(ds.name, [], [], [], [], [], [], [], {"ws": np.zeros(0)})
    ws_ranks = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{ds.name}: queries", total=len(ds.questions))
        for question, relevant in ds.questions:
            toks = tokenize(question)
            terms = set(toks)
            lexical = kiwi_index.search(toks, n_cand)
            c.lexical.append(lexical)
            c.shares.append(kiwi_index.vocabulary_share(toks))  # as the server computes both
            c.coverage.append(kiwi_index.coverage(toks, int(lexical[0][0])) if lexical else 0.0)
            c.overlap.append(max(_share(terms, passage_sets[r]) for r in relevant))  # groups: the tokens
            c.hangul.append(is_hangul_query(question))
            c.relevant.append(relevant)
            qvec = embedder.embed_query(question)
            scores = mat @ qvec
            top = np.argpartition(-scores, min(n_cand, len(scores) - 1))[:n_cand]
            top = top[np.argsort(-scores[top])]
            c.dense_whole.append([(ids[i], float(scores[i])) for i in top])
            candidates = [ids[i] for i in top] + [cid for cid, _ in lexical]
            c.dense.append(kb_sentences.rescore(qvec, same, by_id, candidates, lookup, n_cand))
            ws_ranks.append(_first_rank(ws_index.search(whitespace_tokens(question), n_cand), relevant))
            progress.advance(task)
    embedder.flush()
    c.ranks = {
        "ws": np.array(ws_ranks),
        "kiwi": np.array([_first_rank(lst, rel) for lst, rel in zip(c.lexical, c.relevant, strict=True)]),
        "dense": np.array([_first_rank(lst, rel) for lst, rel in zip(c.dense, c.relevant, strict=True)]),
        "dense_whole": np.array([_first_rank(lst, rel) for lst, rel in zip(c.dense_whole, c.relevant, strict=True)]),
    }
    return c


def _share(terms: set[str], passage: set[str]) -> float:
    return sum(1 for t in terms if t in passage) / len(terms) if terms else 0.0


def production_ranks(c: Candidates, config) -> tuple[np.ndarray, np.ndarray]:
    """Ranks under the production fuse/skip rule with ``config``, and which queries skipped dense."""
    from servers.kb_server.search import fuse, skips_dense

    ranks, skipped = [], []
    for i, lexical in enumerate(c.lexical):
        skip = skips_dense(lexical, c.shares[i], config, top_coverage=c.coverage[i])
        skipped.append(skip)
        dense = [] if skip else c.dense[i]
        fused = fuse(lexical, dense, c.shares[i], config, hangul=c.hangul[i], top_coverage=c.coverage[i])
        ranks.append(_first_rank(fused, c.relevant[i]))
    return np.array(ranks), np.array(skipped, dtype=bool)


def metrics(ranks: np.ndarray) -> dict[str, float]:
    if len(ranks) == 0:
        return {f"recall_at_{k}": 0.0 for k in KS} | {"mrr_at_10": 0.0}
    out = {f"recall_at_{k}": float(np.mean(ranks <= k)) for k in KS}
    out["mrr_at_10"] = float(np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0)))
    return out


class Grid:
    """Ranks of every fusion in the grid for every question: fused ranks per (lexical weight, k),
    skip decisions per skip rule, so a configuration's ranks are a gather."""

    def __init__(self, c: Candidates) -> None:
        from servers.kb_server.search import FusionConfig, fuse, skips_dense

        self.c = c
        n = len(c.lexical)
        self.rows = np.arange(n)
        self.hangul = np.array(c.hangul)
        self.coverage = np.array(c.coverage)
        self.fused = np.zeros((len(ALL_WEIGHTS), len(RRF_KS), n), dtype=np.int64)
        for (w_i, w), (k_i, k) in product(enumerate(ALL_WEIGHTS), enumerate(RRF_KS)):
            cfg = FusionConfig(lexical_weight_hangul=w, lexical_weight_other=w, rrf_k=k)
            for i, lex in enumerate(c.lexical):
                self.fused[w_i, k_i, i] = _first_rank(fuse(lex, c.dense[i], c.shares[i], cfg), c.relevant[i])
        self.skip: dict[tuple[float, float], np.ndarray] = {}
        for gap, cov in SKIP_RULES:
            cfg = FusionConfig(skip_dense_gap=gap, skip_dense_coverage=cov)
            self.skip[(gap, cov)] = np.array(
                [skips_dense(lex, c.shares[i], cfg, top_coverage=c.coverage[i]) for i, lex in enumerate(c.lexical)],
                dtype=bool,
            )
        self.best_half: dict[bytes, float] = {}

    def ranks(self, cfg: tuple, rows: np.ndarray) -> np.ndarray:
        lw_h, lw_o, k, gap, cov, weak_cov, weak_factor = cfg
        base = np.where(self.hangul, lw_h, lw_o)
        weight = np.where(self.coverage < weak_cov, base * weak_factor, base)
        w_idx = np.searchsorted(ALL_WEIGHTS, weight)
        fused = self.fused[w_idx, RRF_KS.index(k), self.rows]
        return np.where(self.skip[(gap, cov)], self.c.ranks["kiwi"], fused)[rows]

    def objective(self, ranks: np.ndarray, rows: np.ndarray) -> float:
        """R@5 + MRR@10 / 2, less three times any R@5 shortfall below the better half on ``rows``."""
        key = rows.tobytes()
        if key not in self.best_half:
            self.best_half[key] = max(
                metrics(self.c.ranks["kiwi"][rows])["recall_at_5"], metrics(self.c.ranks["dense"][rows])["recall_at_5"]
            )
        m = metrics(ranks)
        return m["recall_at_5"] + 0.5 * m["mrr_at_10"] - 3.0 * max(0.0, self.best_half[key] - m["recall_at_5"])


CONFIGS = [
    (lw_h, lw_o, k, *skip, *weak)
    for lw_h, lw_o, k in product(LEXICAL_WEIGHTS, LEXICAL_WEIGHTS, RRF_KS)
    for skip in SKIP_RULES
    for weak in WEAK_RULES
]
CONFIG_FIELDS = (
    "lexical_weight_hangul", "lexical_weight_other", "rrf_k", "skip_dense_gap", "skip_dense_coverage",
    "weak_lexical_coverage", "weak_lexical_factor",
)  # fmt: skip


def _groups(cands: dict[str, Candidates]) -> dict[str, tuple[str, np.ndarray]]:
    """Group name → (set name, question rows): the low-overlap quarter and the rest of each QA set."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    for name in ("korquad", "squad"):
        overlap = np.array(cands[name].overlap)
        order = np.argsort(overlap, kind="stable")
        cut = len(order) // 4
        out[f"{name}_low"] = (name, np.sort(order[:cut]))
        out[f"{name}_rest"] = (name, np.sort(order[cut:]))
        out[name] = (name, np.arange(len(overlap)))
    out["korquad_chat"] = ("korquad_chat", np.arange(len(cands["korquad_chat"].lexical)))
    for name in ("korquad", "squad"):  # diagnostics, not folds: selected on BM25's failure
        out[f"{name}_bm25miss"] = (name, np.flatnonzero(cands[name].ranks["kiwi"] > 1))
    return out


def choose(grids: dict[str, Grid], groups: dict[str, tuple[str, np.ndarray]], train: list[str]) -> tuple:
    """The grid configuration with the best mean objective over the ``train`` groups (ties: more skipping)."""
    best, best_key = None, None
    for cfg in CONFIGS:
        total, skipped = 0.0, 0.0
        for g in train:
            set_name, rows = groups[g]
            grid = grids[set_name]
            total += grid.objective(grid.ranks(cfg, rows), rows)
            skipped += float(np.mean(grid.skip[(cfg[3], cfg[4])][rows]))
        key = (round(total / len(train), 6), skipped)
        if best_key is None or key > best_key:
            best, best_key = cfg, key
    return best


def run(quick: bool, console, sample: int = SAMPLE) -> dict[str, Any]:
    """Every set and method side by side, the cross-validated choice, and the production default."""
    from servers.kb_server.search import DEFAULT_FUSION, FusionConfig

    started = time.perf_counter()
    cands = {ds.name: candidates(ds, console) for ds in load_sets(quick, sample)}
    grids = {name: Grid(c) for name, c in cands.items()}
    groups = _groups(cands)
    old = FusionConfig(lexical_weight_hangul=2.0, lexical_weight_other=0.75, rrf_k=10, skip_dense_gap=0.3,
                       skip_dense_coverage=0.0, weak_lexical_coverage=0.0)  # fmt: skip
    plain = FusionConfig(lexical_weight_hangul=1.0, lexical_weight_other=1.0, rrf_k=60, skip_dense_gap=1.5)
    before = FusionConfig(lexical_weight_other=0.75, skip_dense_coverage=0.75)  # the default of 2026-12-04
    out: dict[str, Any] = {}
    prod: dict[str, dict[str, tuple[np.ndarray, float]]] = {}
    for name, c in cands.items():
        prod[name] = {"old": production_ranks(c, old), "new": production_ranks(c, DEFAULT_FUSION)}
        prod[name]["plain"] = production_ranks(c, plain)
        prod[name]["whole"] = production_ranks(replace(c, dense=c.dense_whole), before)
    for group, (set_name, rows) in groups.items():
        c = cands[set_name]
        out[f"{group}_n_questions"] = len(rows)
        for method in ("ws", "kiwi", "dense_whole", "dense"):
            for metric, value in metrics(c.ranks[method][rows]).items():
                out[f"{group}_{metric}_{method}"] = value
        for method in ("plain", "old", "whole", "new"):
            ranks, _ = prod[set_name][method]
            for metric, value in metrics(ranks[rows]).items():
                out[f"{group}_{metric}_{method}"] = value
        for method in ("old", "whole", "new"):
            out[f"{group}_dense_skipped_{method}"] = float(np.mean(prod[set_name][method][1][rows]))
    # leave one group out
    for held in GROUPS:
        cfg = choose(grids, groups, [g for g in GROUPS if g != held])
        set_name, rows = groups[held]
        m = metrics(grids[set_name].ranks(cfg, rows))
        out[f"{held}_loso_recall_at_5"] = m["recall_at_5"]
        out[f"{held}_loso_mrr_at_10"] = m["mrr_at_10"]
        out[f"{held}_loso_config"] = list(cfg)
    chosen = choose(grids, groups, list(GROUPS))
    out["chosen_config"] = dict(zip(CONFIG_FIELDS, chosen, strict=True))
    out["default_config"] = {field: getattr(DEFAULT_FUSION, field) for field in CONFIG_FIELDS}
    out["quality_sample_per_set"] = 150 if quick else sample
    out["quality_seconds"] = time.perf_counter() - started
    return out


def table(results: dict[str, Any], console) -> None:
    from core.cliutil import table as rich_table

    rows = []
    for group in SHOWN:
        if f"{group}_recall_at_5_dense" not in results:
            continue
        skipped_before = results[f"{group}_dense_skipped_whole"]
        for method, label in (
            ("ws", "whitespace BM25 (baseline)"),
            ("kiwi", "kiwi BM25 only"),
            ("dense_whole", "e5 dense only, whole-chunk vectors (before)"),
            ("dense", "e5 dense only, whole + sentence vectors"),
            ("plain", "plain RRF (k=60, equal weights)"),
            ("old", f"old hybrid (dense skipped {results[f'{group}_dense_skipped_old']:.0%})"),
            ("whole", f"hybrid before: whole vectors, 12-04 fusion (dense skipped {skipped_before:.0%})"),
            ("new", f"hybrid, default (dense skipped {results[f'{group}_dense_skipped_new']:.0%})"),
        ):
            rows.append(
                (
                    f"{group} ({results[f'{group}_n_questions']})",
                    label,
                    *(f"{results[f'{group}_recall_at_{k}_{method}']:.3f}" for k in KS),
                    f"{results[f'{group}_mrr_at_10_{method}']:.3f}",
                )
            )
        if f"{group}_loso_recall_at_5" in results:
            rows.append(
                (
                    "",
                    f"held out: chosen on the other groups {results[f'{group}_loso_config']}",
                    "",
                    f"{results[f'{group}_loso_recall_at_5']:.3f}",
                    "",
                    f"{results[f'{group}_loso_mrr_at_10']:.3f}",
                )
            )
    console.print(
        rich_table("KB retrieval quality", ["set (questions)", "method", "R@1", "R@5", "R@10", "MRR@10"], rows)
    )
    console.print(f"chosen on all groups: {results['chosen_config']}; production default: {results['default_config']}")
