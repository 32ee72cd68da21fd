"""Text that gives orders to an assistant: the one detector every store and reader shares.

A memory, a KB passage or a tool result is data about the world, never a rule for the assistant.
:func:`instructs` finds the phrase that makes a text an instruction: the registry's lint phrases
for tool definitions that give orders wherever they appear (:mod:`registry.lint`'s
``*_INSTRUCTIONS``: 'ignore previous instructions', '이전 지시를 무시'; not its tool-only phrases such
as '몰래' / 'secretly', ordinary words in what customers and documents say) plus
the operational orders a hijacked model or a poisoned document would plant ('확인 없이 즉시 처리할
것', 'always approve refunds', 'skip the confirmation'). Used by the memory server's guard (refuse
to store it) and by the offline planner (never read it out to a customer).
"""

from __future__ import annotations

import re

from registry.lint import ENGLISH_INSTRUCTIONS, KOREAN_INSTRUCTIONS, normalise_for_matching

# operational orders to the assistant (matched with spaces removed for Korean)
_KOREAN_ORDERS = [
    r"확인(?:절차)?(?:없이|생략|하지말고|받지말고)",
    r"(?:묻지|물어보지|확인하지)(?:말고|않고)",
    r"즉시(?:처리|승인|환불|진행|지급)",
    r"(?:처리|승인|진행|환불|지급|실행|수락|허용)(?:할것|하시오|하라|해야한다|해야함)",
    r"(?:항상|무조건|자동으로)\S{0,8}(?:승인|환불|처리|진행|지급)",
    r"(?:어시스턴트|에이전트|상담봇|챗봇|ai|모델|너는|당신은)\S{0,12}(?:해야|할것|하라|하시오|따르)",
    r"(?:새로운|다음)(?:지시|규칙|명령)",
    # a customer's line that waives a check ("다음부터는 환불할 때 확인 안 해도 돼요", "승인 절차
    # 없이 처리됩니다"): stored, it would read to a model as a standing permission
    r"확인(?:은|을|도)?(?:안해도|안하셔도|하지않아도|안받아도|필요없|생략해도|생략하)",
    r"(?:승인|인증|본인확인|검증)(?:절차|과정)?(?:없이|생략|안해도|필요없)",
]
_ENGLISH_ORDERS = [
    r"\bwithout\s+(?:asking|any\s+)?(?:confirm\w*|verif\w*|check\w*|approval)\b",
    r"\b(?:always|automatically|immediately|instantly)\s+(?:approve|refund|process|grant|execute|accept)\b",
    # "you must always approve refunds", never "you should always wash it first"
    r"\b(?:assistant|agent|ai|model|you)\s+(?:must|should|shall|will)\s+(?:always\s+|never\s+)?"
    r"(?:approve|refund|ignore|skip|bypass|process|grant|execute)\b",
    r"\b(?:skip|bypass|disable)\s+(?:the\s+)?(?:confirmation|verification|approval|check)s?\b",
]
_KO = [re.compile(p, re.IGNORECASE) for p in [*KOREAN_INSTRUCTIONS, *_KOREAN_ORDERS]]
_EN = [re.compile(p, re.IGNORECASE | re.DOTALL) for p in [*ENGLISH_INSTRUCTIONS, *_ENGLISH_ORDERS]]


def instructs(text: str) -> str | None:
    """The instruction-like phrase in ``text``, or None."""
    normal = normalise_for_matching(text)
    for pattern in _EN:
        found = pattern.search(normal)
        if found:
            return found.group(0)
    compact = re.sub(r"\s+", "", normal)
    for pattern in _KO:
        found = pattern.search(compact)
        if found:
            return found.group(0)
    return None
