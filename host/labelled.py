"""The labelled sets under ``host/data/`` that the host's readers are measured on.

- ``confirm_replies_<split>.tsv``: replies to a confirmation prompt about order 8841, each with the
  reading it must get (:func:`host.replies.read_reply`; ``bench/confirm.py``, ``tests/host/test_replies.py``).
  Splits: dev (the rules were written against it), holdout (not looked at while writing them),
  hostile (a tester's attack on the reading and more in its spirit, with clear yeses in varied forms).
- ``kb_questions.tsv``: questions a customer might ask about the demo KB
  (``servers/kb_server/demo_docs``), written from the documents by someone who had not seen the
  answering code: ``answer`` rows name the documents that hold the answer; ``none`` rows are
  questions the KB does not answer (mostly in its own domain: "환불 받을 때 이자도 붙나요"),
  chit-chat and other companies' business. Splits dev and held_out, Korean and English
  (:func:`host.answer.answer_from`; ``bench/kb_answers.py``, ``tests/host/test_answer.py``).
- ``escalation_phrases.tsv`` is read by its test (``tests/host/test_escalation_phrases.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from host.replies import ReplyLabel

DATA_DIR = Path(__file__).parent / "data"
#: the splits of the confirmation replies
SPLITS = ("dev", "holdout", "hostile")
#: the order number the labelled replies answer about
LABELLED_EXPECTED = "8841"
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


@dataclass(frozen=True, slots=True)
class LabelledReply:
    """One reply of the labelled set in ``host/data/confirm_replies_<split>.tsv``."""

    label: ReplyLabel
    value: str | None
    text: str
    split: str

    @property
    def language(self) -> str:
        return "ko" if _HANGUL.search(self.text) else "en"


def labelled_replies(*splits: str) -> list[LabelledReply]:
    """The labelled replies (every split unless ``splits`` names some); the prompt asked about 8841."""
    rows = []
    for split in splits or SPLITS:
        for line in (DATA_DIR / f"confirm_replies_{split}.tsv").read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            label, value, text = line.split("\t")
            rows.append(LabelledReply(ReplyLabel(label), None if value == "-" else value, text, split))
    return rows


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
