"""What a memory's vectors are computed from: the text a reader needs to understand it.

A stored chat turn ("I moved to Busan last week") means little without who said it. The lexical
index has always had the speaker's name (``Candidate.context``); the dense side embedded the bare
text, so a question naming a person ("When did Caroline move?") found the turn by keyword only.
On a held-out English multi-session set, e5 over ``"Speaker: text"`` doubled dense recall@10
(25.8% -> 52.4%). The conversation's time is kept as ``observed_at`` (filters, ``as_of``, recency, and shown with
every result) but not written into the passage: e5 does not reason over dates, and a shared date
prefix makes every turn of a session look alike to it.

A memory of several sentences also gets one vector per sentence (:func:`passage_texts`). One
vector of a whole turn is about its main topic ("recipe ideas for a dinner party"); the fact said
in passing ("I just baked a chocolate cake for my sister's birthday") is what a later question
asks about. The search scores such a memory by the mean of its whole vector's similarity and its
best sentence's (``ScopeIndex.rescore``). Measured on five data sets (docs/memory.md):
LongMemEval recall@10 .768 -> .786, ``memory_ko`` .978 -> .988, the other three unchanged.

``PASSAGE_FORMAT`` is part of the stored vectors' model id, so vectors computed from an older
format are recomputed by the vector worker's backlog instead of being mixed with new ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servers.retrieval.sentences import grouped, sentences

PASSAGE_FORMAT = "speaker1-sent1"
MAX_SENTENCE_VECTORS = 48  # a longer memory's sentences are joined into this many groups


def passage_text(text: str, meta: Mapping[str, Any] | None) -> str:
    """``"Speaker: text"`` when the memory has a speaker, else the text itself."""
    speaker = str((meta or {}).get("speaker") or "").strip()
    return f"{speaker}: {text}" if speaker else text


def passage_texts(text: str, meta: Mapping[str, Any] | None) -> list[str]:
    """The texts to embed for one memory: the whole passage first, then one per sentence.

    A memory of one sentence has only the whole passage. More than ``MAX_SENTENCE_VECTORS``
    sentences are joined, in order, into that many groups of neighbouring sentences.
    """
    whole = passage_text(text, meta)
    parts = sentences(text)
    if len(parts) <= 1:
        return [whole]
    return [whole, *(passage_text(part, meta) for part in grouped(parts, MAX_SENTENCE_VECTORS))]
