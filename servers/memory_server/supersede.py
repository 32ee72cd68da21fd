"""Deciding what a new memory does to existing ones: NONE (duplicate), ADD, or SUPERSEDE.

Pure logic over index entries, no I/O. The rules, in order:

1. **Exact duplicate** — the same normalised text is already active in the partition → NONE; so is
   the same text from the same place of the same source record (``metadata.source_id`` and the
   message's position: a ``memory import`` run again without its state file, or twice at once),
   whatever its status now — a superseded turn imported again is the turn already stored.
2. **Same subject, same value** — an active memory about the same slot with the same value that
   already says everything the new text says → NONE.
3. **Same subject** — otherwise the new memory replaces the current one(s) about that slot: they
   get ``valid_to`` = the new memory's observation time and ``superseded_by`` = its id. Memories
   about a subset of the slots ("contact_time" when the new one states "contact_time+contact_channel")
   are superseded too.
4. **Back-filled history** — when the new memory was observed *before* the current one (an old log
   loaded late), it goes into the timeline where it belongs: it is born superseded by its successor.
5. **Near duplicate** — no slot, and an active memory says the same thing in nearly the same
   words (same numbers, same negation) → NONE.
6. Otherwise → ADD.

A memory that says more than its subject ("제가 간호사라서 낮에는 전화를 못 받아요. 연락은 저녁에
주세요.") is *mixed*: it may replace older memories about that subject, but is never hidden by a
newer one — its other facts stay true. Its stored slot carries a ``~`` prefix.

The partition is the (org, customer) scope plus ``agent_id``: two agents' notes never dedup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from servers.memory_server.index import Doc, ScopeIndex
from servers.memory_server.textnorm import near_duplicate

NEAR_CANDIDATES = 5


@dataclass(slots=True)
class Decision:
    """What to do with one candidate."""

    event: str  # ADD | NONE
    duplicate_of: str | None = None
    status: str = "active"
    valid_to: datetime | None = None
    superseded_by: str | None = None
    supersede: list[Doc] = field(default_factory=list)  # active memories this one replaces
    relink: Doc | None = None  # back-fill: the predecessor that now points at the new memory


def _same_partition(doc: Doc, agent_id: str | None) -> bool:
    return doc.agent_id == agent_id


def source_key(meta: dict[str, object]) -> tuple[object, object] | None:
    """Where a memory came from when its caller named a source record (``memory import`` does):
    (record id, message position); None otherwise."""
    source = meta.get("source_id")
    return None if source is None else (str(source), meta.get("message_index"))


def decide(
    index: ScopeIndex,
    *,
    text: str,
    content_hash: str,
    tokens: list[str],
    slot: str | None,
    slot_values: dict[str, str],
    observed_ts: float,
    agent_id: str | None,
    verbatim: bool = False,
    pure: bool = True,
    source: tuple[object, object] | None = None,
) -> Decision:
    """The decision for a new memory against the scope's current index.

    ``verbatim`` (a whole message stored as is) and preferences (``likes:*``) never replace a memory
    that states the same value: both stay true, so both stay searchable.
    """
    same_text = [d for i in index.by_hash.get(content_hash, ()) if (d := index.get(i)) and _same_partition(d, agent_id)]
    for doc in same_text:  # first: the same record's turn, stored by an earlier run (same id back)
        if source is not None and source_key(doc.meta) == source:
            return Decision("NONE", duplicate_of=doc.id)
    for doc in same_text:
        if doc.status == "active":
            return Decision("NONE", duplicate_of=doc.id)
    if slot:
        return _decide_slot(index, tokens, slot, slot_values, observed_ts, agent_id, verbatim, pure)
    near = _near_duplicate(index, text, tokens, agent_id)
    if near is not None:
        return Decision("NONE", duplicate_of=near.id)
    return Decision("ADD")


def _decide_slot(
    index: ScopeIndex,
    tokens: list[str],
    slot: str,
    slot_values: dict[str, str],
    observed_ts: float,
    agent_id: str | None,
    verbatim: bool,
    pure: bool,
) -> Decision:
    timeline = sorted(
        (d for i in index.by_slot.get(slot, ()) if (d := index.get(i)) is not None and _same_partition(d, agent_id)),
        key=lambda d: (d.observed_ts, d.created_ts),
    )
    words = set(tokens)
    for doc in timeline:
        if doc.status == "active" and doc.slot_values == slot_values and words <= set(doc.tokens):
            return Decision("NONE", duplicate_of=doc.id)
    later = [d for d in timeline if d.observed_ts > observed_ts]
    if later and not pure:
        return Decision("ADD")  # a mixed memory stays visible; the newer fact stays current
    if later:
        successor = later[0]
        earlier = [d for d in timeline if d.observed_ts <= observed_ts]
        predecessor = earlier[-1] if earlier else None
        relink = predecessor if predecessor is not None and predecessor.superseded_by == successor.id else None
        return Decision(
            "ADD", status="superseded", valid_to=successor.observed_at, superseded_by=successor.id, relink=relink
        )
    wanted = set(slot.split("+"))
    keep_same_value = verbatim or slot.startswith("likes:")
    replaced: list[Doc] = []
    for other_slot, ids in index.by_slot.items():
        if not set(other_slot.split("+")) <= wanted:
            continue
        for doc_id in ids:
            doc = index.get(doc_id)
            if doc is None or doc.status != "active" or not _same_partition(doc, agent_id):
                continue
            if keep_same_value and all(
                doc.slot_values.get(k) == v for k, v in slot_values.items() if k in doc.slot_values
            ):
                continue
            replaced.append(doc)
    return Decision("ADD", supersede=sorted(replaced, key=lambda d: d.observed_ts))


def _near_duplicate(index: ScopeIndex, text: str, tokens: list[str], agent_id: str | None) -> Doc | None:
    if not tokens or len(index) == 0:
        return None
    import numpy as np

    size = index.size
    scores = index.lex.scores(tokens, size) * index.active[:size]
    if not scores.any():
        return None
    want = min(NEAR_CANDIDATES * 2, size)
    top = np.argpartition(-scores, want - 1)[:want] if want < size else np.arange(size)
    top = top[np.argsort(-scores[top])]
    checked = 0
    for pos in top:
        if scores[pos] <= 0 or checked >= NEAR_CANDIDATES:
            break
        doc = index.docs[int(pos)]
        if doc is None or not _same_partition(doc, agent_id):
            continue
        checked += 1
        # the same words, not just similar letters: "…with friend Dana tonight" is not a duplicate
        # of "…with friend Ana tonight" (one bigram apart), nor "김민지" of "김민수"
        if set(tokens) == set(doc.tokens) and near_duplicate(text, doc.text):
            return doc
    return None
