"""The multi-session memory data sets of ``bench/memory.py --parts quality``, in one format.

Every loader returns ``{"name", "language", "conversations": [{"id", "sessions": [{"id",
"started_at", "turns": [{"id", "speaker", "role", "text", "timestamp"}]}], "questions": [{"id",
"type", "question", "evidence": [turn ids], "asked_at"?}]}]}`` (``asked_at``: when the question
is asked, where the set says; relative times in it count from there, else from now); each
conversation is loaded into one customer scope, every turn stored verbatim (``infer=false``,
speaker in ``name``, time in ``observed_at``), and recall@k counts the evidence turns found.

- ``memory_ko`` — ours (bench/data/memory_ko): Korean call-center calls, 32 customers.
- ``longmemeval`` — LongMemEval oracle (English, MIT; ../shared/data/memory/longmemeval): all
  evidence sessions of the sampled questions pooled into ONE scope (the protocol: each question
  has every other question's sessions as distractors); evidence = turns with ``has_answer``.
  Abstention questions (``_abs``) and questions without a marked turn are left out. Sampled
  (seeded, stratified by question type) because its turns are long (1.2k characters on average).
- ``korquad_chat`` — built here from KorQuAD 1.0 dev (Korean Wikipedia, CC BY-ND 2.0; generated
  at run time, never stored): each article is one conversation between two people, each
  paragraph a session a week apart, each sentence a turn spoken in turn by 민지 and 준호;
  a KorQuAD question's evidence is the sentence holding its answer. Questions are paraphrases
  written by other people than the text's authors, the Korean side of "data nobody here wrote".
- ``korquad_long`` / ``squad_long`` — the same construction at the length of real multi-session
  chats: each conversation pools 4 KorQuAD articles × 6 paragraphs (3 SQuAD 1.1 articles × 8 for
  the English one; English Wikipedia, CC BY-SA 4.0, spoken by Emma and Daniel), ~24 weekly
  sessions and 110-140 turns per customer scope, so a question has its own conversation's other
  topics as distractors (``korquad_chat``'s 19 turns a scope make recall@10 nearly free). Short
  turns between two named people where keyword search is strong: the profile of the held-out
  English multi-session chats, on which BM25 beat dense search.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
for candidate in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data", Path("/work/shared/data")):
    if candidate.exists():
        SHARED = candidate
        break
MEMORY_KO = ROOT / "bench" / "data" / "memory_ko" / "memory_ko.json"
LONGMEMEVAL = SHARED / "memory" / "longmemeval" / "longmemeval_oracle.json"
KORQUAD = SHARED / "retrieval" / "KorQuAD_v1.0_dev.json"
SQUAD = SHARED / "retrieval" / "squad_v1.1_dev.json"
KST = timezone(timedelta(hours=9))


def memory_ko(limit: int | None = None) -> dict[str, Any]:
    data = json.loads(MEMORY_KO.read_text(encoding="utf-8"))
    conversations = data["conversations"][:limit] if limit else data["conversations"]
    return {"name": "memory_ko", "language": "ko", "conversations": conversations}


def _lme_time(value: str) -> str:
    return datetime.strptime(value.split(" (")[0] + value[-6:], "%Y/%m/%d %H:%M").replace(tzinfo=UTC_).isoformat()


UTC_ = UTC


def longmemeval(questions: int = 150, seed: int = 42) -> dict[str, Any]:
    """``questions`` sampled questions (stratified by type) over their pooled evidence sessions."""
    raw = json.loads(LONGMEMEVAL.read_text(encoding="utf-8"))
    usable = [
        q
        for q in raw
        if not q["question_id"].endswith("_abs") and any(t.get("has_answer") for s in q["haystack_sessions"] for t in s)
    ]
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in usable:
        by_type[q["question_type"]].append(q)
    rng = random.Random(seed)
    picked: list[dict[str, Any]] = []
    share = min(1.0, questions / len(usable))
    for kind in sorted(by_type):
        pool = by_type[kind]
        rng.shuffle(pool)
        picked.extend(pool[: max(1, round(len(pool) * share))])
    sessions: dict[str, dict[str, Any]] = {}
    out_questions = []
    for q in picked:
        evidence = []
        for sid, date, turns in zip(
            q["haystack_session_ids"], q["haystack_dates"], q["haystack_sessions"], strict=True
        ):
            if sid not in sessions:
                when = _lme_time(date)
                sessions[sid] = {
                    "id": sid,
                    "started_at": when,
                    "turns": [
                        {
                            "id": f"{sid}:{i}",
                            "speaker": t["role"],
                            "role": t["role"],
                            "text": t["content"],
                            "timestamp": when,
                        }
                        for i, t in enumerate(turns)
                        if t["content"].strip()
                    ],
                }
            evidence.extend(f"{sid}:{i}" for i, t in enumerate(turns) if t.get("has_answer") and t["content"].strip())
        out_questions.append(
            {
                "id": q["question_id"],
                "type": q["question_type"],
                "question": q["question"],
                "evidence": evidence,
                "asked_at": _lme_time(q["question_date"]),  # "two weeks ago" counts from here
            }
        )
    ordered = sorted(sessions.values(), key=lambda s: (s["started_at"], s["id"]))
    conv = {"id": "longmemeval", "sessions": ordered, "questions": out_questions}
    return {"name": "longmemeval", "language": "en", "conversations": [conv]}


_BREAK = re.compile(r"(?<=[.!?])\s+")
# English: not after a short capitalised abbreviation ("Mt. Kenya", "St. Louis", "Dr. Kim")
_BREAK_EN = re.compile(r"(?<![A-Z][a-z]\.)(?<![A-Z]\.)(?<=[.!?])\s+")


def _sentence_spans(context: str, language: str = "ko") -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in (_BREAK_EN if language == "en" else _BREAK).finditer(context):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(context)))
    return [(a, b) for a, b in spans if context[a:b].strip()]


def korquad_chat(articles: int = 40, paragraphs: int = 4, seed: int = 7) -> dict[str, Any]:
    """A Korean multi-session set from KorQuAD dev: ``articles`` conversations (seeded sample)."""
    return _wiki_chat("korquad_chat", "ko", KORQUAD, ("민지", "준호"), "kq", articles, 1, paragraphs, seed)


def korquad_long(conversations: int = 8, seed: int = 11) -> dict[str, Any]:
    """``korquad_chat`` at the length of real multi-session chats: 4 articles × 6 paragraphs per
    conversation, so each question has ~130 turns of its own conversation as distractors."""
    return _wiki_chat("korquad_long", "ko", KORQUAD, ("민지", "준호"), "kl", conversations, 4, 6, seed)


def squad_long(conversations: int = 8, seed: int = 11) -> dict[str, Any]:
    """The English twin of ``korquad_long`` from SQuAD 1.1 dev (3 articles × 8 paragraphs)."""
    return _wiki_chat("squad_long", "en", SQUAD, ("Emma", "Daniel"), "sl", conversations, 3, 8, seed)


def _wiki_chat(
    name: str,
    language: str,
    path: Path,
    speakers: tuple[str, str],
    prefix: str,
    conversations: int,
    articles_each: int,
    paragraphs_each: int,
    seed: int,
) -> dict[str, Any]:
    """Conversations of ``articles_each`` consecutive sampled articles, ``paragraphs_each`` paragraphs
    of each: a paragraph per weekly session, a sentence per turn, the speakers taking turns."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    rng = random.Random(seed)
    chosen = rng.sample(data, min(conversations * articles_each, len(data)))
    start = datetime(2024, 3, 4, 10, 0, tzinfo=KST)
    out = []
    for c_i in range(len(chosen) // articles_each):
        conv_id = f"{prefix}{c_i:02d}"
        group = chosen[c_i * articles_each : (c_i + 1) * articles_each]
        paras = [para for article in group for para in article["paragraphs"][:paragraphs_each]]
        sessions, questions = [], []
        for p_i, para in enumerate(paras):
            context = para["context"]
            spans = _sentence_spans(context, language)
            when = start + timedelta(days=7 * p_i, minutes=c_i)
            turns = []
            for s_i, (a, b) in enumerate(spans):
                turns.append(
                    {
                        "id": f"{conv_id}-p{p_i}-s{s_i}",
                        "speaker": speakers[s_i % 2],
                        "role": "user",
                        "text": context[a:b].strip(),
                        "timestamp": (when + timedelta(seconds=30 * s_i)).isoformat(),
                    }
                )
            sessions.append({"id": f"{conv_id}-p{p_i}", "started_at": when.isoformat(), "turns": turns})
            for qa in para["qas"]:
                at = qa["answers"][0]["answer_start"]
                end = at + len(qa["answers"][0]["text"])
                hit = [f"{conv_id}-p{p_i}-s{s_i}" for s_i, (a, b) in enumerate(spans) if a < end and at < b]
                if hit:
                    questions.append({"id": qa["id"], "type": "fact", "question": qa["question"], "evidence": hit})
        out.append({"id": conv_id, "sessions": sessions, "questions": questions})
    return {"name": name, "language": language, "conversations": out}


def load(name: str, quick: bool = False) -> dict[str, Any]:
    if name == "memory_ko":
        return memory_ko(5 if quick else None)
    if name == "longmemeval":
        return longmemeval(30 if quick else 150)
    if name == "korquad_chat":
        return korquad_chat(6 if quick else 40)
    if name == "korquad_long":
        return korquad_long(2 if quick else 8)
    if name == "squad_long":
        return squad_long(2 if quick else 8)
    raise ValueError(f"unknown data set {name!r}: {', '.join(SETS)}")


SETS = ("memory_ko", "longmemeval", "korquad_chat", "korquad_long", "squad_long")


def stats(ds: dict[str, Any]) -> tuple[int, int, int]:
    turns = sum(len(s["turns"]) for c in ds["conversations"] for s in c["sessions"])
    questions = sum(len(c["questions"]) for c in ds["conversations"])
    return len(ds["conversations"]), turns, questions


if __name__ == "__main__":
    for name in SETS:
        print(name, stats(load(name)), stats(load(name, quick=True)))
