"""The end-of-session summary and the facts worth remembering about the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from host import prompts
from host.recovery import summary_lines

if TYPE_CHECKING:
    from host.session import SessionState


def summarise(state: SessionState, language: str) -> str:
    """One or two sentences in the legacy style: '환불 상태 문의. 주문번호 8841 확인 후 안내.'"""
    ko = language == "ko"
    topics = [prompts.TOPICS[t][0 if ko else 1] for t in state.topics if t in prompts.TOPICS]
    parts: list[str] = []
    if topics:
        parts.append(f"{', '.join(topics)} 문의." if ko else f"Asked about {', '.join(topics)}.")
    elif state.answered:
        parts.append("일반 문의." if ko else "General enquiry.")
    else:
        parts.append("문의 내용 없음." if ko else "No enquiry.")
    if state.orders:
        orders = ", ".join(state.orders[:5])
        if state.answered:
            parts.append(f"주문번호 {orders} 확인 후 안내." if ko else f"Checked order {orders} and answered.")
        else:
            parts.append(f"주문번호 {orders} 확인." if ko else f"Order {orders} mentioned.")
    parts.extend(_writes_done(state, ko))
    parts.extend(summary_lines(state, ko))  # interrupted writes, as they really ended (host/recovery.py)
    if state.pending is not None:
        parts.append("확인 요청에 답하지 않고 종료." if ko else "Ended before answering a confirmation.")
    if state.escalated:
        reason = state.escalation_reason or ""
        parts.append(f"상담원 연결({reason})." if ko else f"Handed to a person ({reason}).")
    return " ".join(parts)


def write_record(exposed_name: str, data: Any) -> dict[str, Any]:
    """What the summary keeps of a write a server made: the tool, and the reference it returned."""
    found = data if isinstance(data, dict) else {}
    refund = found.get("refund") if isinstance(found.get("refund"), dict) else {}
    reference = found.get("refund_id") or refund.get("refund_id") or found.get("reference") or found.get("id")
    return {"exposed_name": exposed_name, "reference": str(reference) if reference else None}


def _writes_done(state: SessionState, ko: bool) -> list[str]:
    """'환불 요청 처리됨(RF…).': a summary that says money moved when it did (a walk found it silent)."""
    out = []
    for item in state.writes:
        name, ref = item.get("exposed_name", ""), item.get("reference")
        label = ("환불 요청" if ko else "refund request") if "refund" in name else name
        out.append(f"{label} 처리됨({ref or '접수'})." if ko else f"{label} made ({ref or 'accepted'}).")
    return out
