"""The customer's long-term memory: recalled when a session starts, written when it ends.

Only when the agent version pins a memory server. The calls go through the tool layer (the
gateway) like any other, as the host's own calls (actor ``host``); a memory tool that needs the
customer's confirmation or an operator's approval is not called on the host's initiative (the
pinned policy applies: the host's own calls are not raised to ``confirm`` like the model's writes).
What the host stores is built from server facts (orders a server returned, topics, escalation),
never from the customer's or the model's words; recalled memories reach the model as quoted data.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from core.clock import korea_date
from host.names import hide_names
from host.port import ConversationPort
from host.providers.offline_answers import memory_texts
from host.session import SessionState
from host.store import masked
from host.tooling import ExposedTool

log = logging.getLogger("switchboard.host.memory")

RECALL_TOOLS = ("list_memories", "get_memories", "search_memories", "recall", "search")
STORE_TOOLS = ("add_memory", "add_memories", "remember", "store_memory")
RECALL_QUERY = {"ko": "고객 정보와 이전 상담 내용", "en": "customer profile and earlier conversations"}
MAX_RECALLED = 10


def find_memory_tool(tools: list[ExposedTool], names: tuple[str, ...]) -> ExposedTool | None:
    for name in names:
        for tool in tools:
            usable = tool.enabled and tool.policy == "never"
            if tool.server_name == "memory" and tool.tool_name == name and usable:
                return tool
    return None


def fill_arguments(tool: ExposedTool, wanted: dict[str, Any]) -> dict[str, Any]:
    """``wanted`` values for the properties the pinned schema has (others left out)."""
    props = tool.input_schema.get("properties") or {}
    return {name: value for name, value in wanted.items() if name in props}


def session_facts(state: SessionState, summary: str, language: str) -> list[str]:
    """Short facts to store at the end of a session: the summary, orders a server returned, escalation."""
    if not (state.topics or state.answered or state.orders or state.escalated or state.interrupted):
        return []  # a session where nothing was asked ("/end" at once, a dropped call) leaves no note
    day = korea_date(datetime.now(UTC))  # the customer's day: a call at 00:42 KST is not yesterday
    ko = language == "ko"
    facts = [f"{day} 상담 요약: {summary}" if ko else f"{day} conversation: {summary}"]
    for order in state.orders[:3]:
        facts.append(f"주문번호 {order} 관련 문의 이력" if ko else f"Asked about order {order}")
    if state.escalated:
        facts.append("상담원 연결을 요청한 적 있음" if ko else "Has asked for a human agent before")
    return facts


async def recall(conv: ConversationPort) -> list[str]:
    tool = find_memory_tool(conv.layer.exposed_tools(), RECALL_TOOLS)
    if tool is None:
        return []
    args = fill_arguments(
        tool,
        {"query": RECALL_QUERY[conv.language], "limit": MAX_RECALLED, "top_k": MAX_RECALLED, "page_size": MAX_RECALLED},
    )
    outcome = await conv.host_call(tool.exposed_name, args)
    if not outcome.ok:
        log.warning("memory recall failed: %s", outcome.error_code)
        return []
    return memory_texts(outcome.data)[:MAX_RECALLED]


async def remember(conv: ConversationPort, facts: list[str]) -> None:
    tool = find_memory_tool(conv.layer.exposed_tools(), STORE_TOOLS)
    if tool is None:
        return
    props = tool.input_schema.get("properties") or {}
    await _learn_from_customer(conv, tool, props)
    if not facts:
        return
    extra = {"metadata": {"origin": "host"}} if "metadata" in props else {}
    if "texts" in props or "memories" in props:
        key = "texts" if "texts" in props else "memories"
        outcome = await conv.host_call(tool.exposed_name, {key: facts, **extra})
        if not outcome.ok:
            log.warning("memory store failed: %s", outcome.error_code)
        return
    key = next((k for k in ("text", "content", "memory", "fact") if k in props), None)
    if key is None:
        return
    for fact in facts:
        outcome = await conv.host_call(tool.exposed_name, {key: fact, **extra})
        if not outcome.ok:
            log.warning("memory store failed: %s", outcome.error_code)
            return


def _only_a_reply(text: str) -> bool:
    """A yes, a no or a hesitation to the bot's question ("네네 해주세요", "예 아니 잠깐 취소", "네 아
    아니다 잠깐만"): nothing about the customer, so not sent to be remembered (a walk found them
    stored as memories). A reply that says more ("네 오후 2시 이후가 편해요") reads as unclear and is sent."""
    from host.replies import ReplyLabel, read_reply

    reading = read_reply(text)
    return reading.label in (ReplyLabel.CONFIRM, ReplyLabel.DENY) or "hesitation" in reading.cues


_NOT_WORDS = re.compile(r"[\W\d_]+")
_PARTICLE_ONLY = re.compile(r"(?:이에요|예요|입니다|이고요|이요|요)?")


def _only_data(text: str) -> bool:
    """A reply that is nothing but a number or a name once masked ("010-****-5678", "***요", the
    caller check's answers): nothing to remember (a walk found them sent as memories)."""
    return _PARTICLE_ONLY.fullmatch(_NOT_WORDS.sub("", text)) is not None


async def _learn_from_customer(conv: ConversationPort, tool: ExposedTool, props: dict[str, Any]) -> None:
    """What the customer said about themselves ("연락 가능한 시간은 오후 5시 이후예요"), for the
    memory server to extract: a stated contact time, address or plan then supersedes the old one.

    Only when the store tool takes a conversation (``messages``); personal data is masked first.
    """
    if "messages" not in props:
        return
    said = [
        masked(hide_names(m.text))  # "저 박영희인데요": a name said unasked is not kept (host/names.py)
        for m in conv.state.messages
        if m.role == "user" and m.text and m.text.strip() and not _only_a_reply(m.text)
    ]
    said = [t for t in said if not _only_data(t)]
    if not said:
        return
    wanted = {
        "messages": [{"role": "user", "content": t} for t in said],
        "infer": True,
        "metadata": {"origin": "customer"},
    }
    args = fill_arguments(tool, wanted)
    outcome = await conv.host_call(tool.exposed_name, args)
    if not outcome.ok:
        if outcome.error_code == "INVALID_ARGUMENT":
            # the server found nothing it may keep (an instruction, a bare number): its guard working,
            # not a failure to show in the chat (a walk saw this warning printed to the terminal)
            log.info("memory server kept nothing of this session: %s", outcome.error_message)
        else:
            log.warning("memory extraction failed: %s", outcome.error_code)
