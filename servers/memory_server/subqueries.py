"""Compound questions: search for each part as well as for the whole.

"How many days passed between my move to Busan and my first gym class?" names two events, and
the turns that answer it mention one each: a search for the whole question ranks the turn that
shares most words first and often leaves the other out of the top ten. :func:`parts` splits a
question at the words that join its parts (English and Korean conjunctions, comparisons, commas,
a second sentence); the search (``ranking.rank``) then fuses the whole question's ranking with
each part's at :data:`PART_WEIGHT` (the whole counts 1), so a part can lift its own evidence into
the top ten but never push the whole question's best match out alone.

Chosen across five data sets at once (``bench/memory.py --parts quality``; docs/memory.md):
LongMemEval R@10 .757 → .768, korquad_chat .978 → .980, korquad_long .972 → .977, squad_long
.956 → .957, memory_ko unchanged (its questions have one part); no set lost.
"""

from __future__ import annotations

import re

PART_WEIGHT = 0.5
MAX_PARTS = 4
_JOINS = re.compile(
    r",? (?:or|and|vs\.?|versus|before|after|then|while) "  # English conjunctions and comparisons
    r"|[,;] |[?？] "  # a list, or a second sentence after a question
    r"| (?:그리고|또는|아니면|혹은|및|그러면) "  # Korean conjunctions (whole words)
    r"|(?<=[가-힣]{2})(?:와|과|이랑|랑|하고) ",  # "A와 B", "A하고 B": a particle after a word of 2+ syllables
    re.IGNORECASE,
)


def parts(question: str) -> list[str]:
    """The parts of a compound question (at most :data:`MAX_PARTS`), or [] when it has one."""
    found = [p.strip(" ?？.,;") for p in _JOINS.split(question)]
    found = [p for p in found if len(p.split()) >= 2 or len(p) >= 6]
    return found[:MAX_PARTS] if len(found) >= 2 else []
