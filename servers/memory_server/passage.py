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

A verbatim turn that opens with a pronoun ("It is the second-longest river in Europe", after
"Tell me about the Rhine") says nothing of what it is about; the turn before does. Such a memory
keeps a link to the memory of the turn before (``memory_item.context_id``, set by the write path
when it stores consecutive messages: :func:`opens_with_pronoun`) and gets one more vector row,
the turn before and the turn together, scored like a sentence row. Measured on five data sets
(docs/memory.md): ``squad_long`` recall@10 .957 -> .963, ``korquad_chat`` .980 -> .982, none
lower; giving every turn such a row cost ``memory_ko`` up to 3.6 points, hence the gate. A
delete, erase or update of the turn before sends the linked memory back to the vector worker
(``servers/memory_server/erase.py``), so no vector keeps a text that is gone.

``PASSAGE_FORMAT`` is part of the stored vectors' model id, so vectors computed from an older
format are recomputed by the vector worker's backlog instead of being mixed with new ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from servers.retrieval.sentences import grouped, sentences

PASSAGE_FORMAT = "speaker1-sent1"
MAX_SENTENCE_VECTORS = 48  # a longer memory's sentences are joined into this many groups

# a turn that opens with one of these leans on the turn before for what it is about
_PRONOUN_EN = re.compile(r"^(it|he|she|they|this|that|these|those|his|her|its|their|there)\b", re.I)
_PRONOUN_KO = re.compile(
    r"^(그는|그녀는|그가|그녀가|그의|그녀의|그들은|그들의|그것은|그것이|이것은|이는|이들은|그곳은|그곳에서|이곳은)"
)


def passage_text(text: str, meta: Mapping[str, Any] | None) -> str:
    """``"Speaker: text"`` when the memory has a speaker, else the text itself."""
    speaker = str((meta or {}).get("speaker") or "").strip()
    return f"{speaker}: {text}" if speaker else text


def opens_with_pronoun(text: str) -> bool:
    """Whether a turn opens with an English or Korean pronoun (its topic is in the turn before)."""
    text = text.lstrip(" \t\n\"'“‘(")
    return bool(_PRONOUN_EN.match(text) or _PRONOUN_KO.match(text))


def passage_texts(
    text: str,
    meta: Mapping[str, Any] | None,
    context: tuple[str, Mapping[str, Any] | None] | None = None,
) -> list[str]:
    """The texts to embed for one memory: the whole passage first, then one per sentence, then
    the turn before and this one together when ``context`` (the turn before's text and metadata)
    is given.

    A memory of one sentence has only the whole passage. More than ``MAX_SENTENCE_VECTORS``
    sentences are joined, in order, into that many groups of neighbouring sentences.
    """
    whole = passage_text(text, meta)
    parts = sentences(text)
    texts = [whole]
    if len(parts) > 1:
        texts.extend(passage_text(part, meta) for part in grouped(parts, MAX_SENTENCE_VECTORS))
    if context is not None:
        texts.append(f"{passage_text(*context)}\n{whole}")
    return texts
