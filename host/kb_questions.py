"""The labelled KB questions (``host/data/kb_questions.tsv``): what the offline planner's answers
are measured on (``bench/kb_answers.py``, ``tests/host/test_answer.py``).

Questions a customer might ask about the demo KB (``servers/kb_server/demo_docs``), written from
the documents by someone who had not seen the answering code: ``answer`` rows name the documents
that hold the answer; ``none`` rows are questions the KB does not answer (mostly in its own domain:
"환불 받을 때 이자도 붙나요"), chit-chat and other companies' business. Two splits, dev and
held-out; Korean and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True, slots=True)
class KbQuestion:
    """One question of the labelled set ``host/data/kb_questions.tsv`` (about the demo KB)."""

    split: str  # dev | held_out
    lang: str
    label: str  # answer | none
    doc_ids: frozenset[str]
    question: str


def labelled_questions(*splits: str) -> list[KbQuestion]:
    out = []
    lines = (DATA_DIR / "kb_questions.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        split, lang, label, docs, question = line.split("\t")
        if not splits or split in splits:
            out.append(KbQuestion(split, lang, label, frozenset(d for d in docs.split(",") if d), question))
    return out
