"""A session's state and the small types around it: the agent profile, settings, turn results.

:class:`SessionState` is everything a worker needs to carry a conversation on; it is stored
(personal data masked) in ``sessions.state`` after every turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from host.providers.base import Message
from host.store import EventRow, Versions, masked_json
from host.tooling import CallOutcome, TurnBudget

HISTORY_LIMIT = 40


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the engine needs of a pinned agent version."""

    org_id: str
    agent_slug: str
    agent_version: int
    agent_version_id: str
    manifest_sha256: str
    provider: str = "offline"
    model: str = ""
    model_params: dict[str, Any] = field(default_factory=dict)
    system_prompt: str = ""
    kb_pins: tuple[dict[str, Any], ...] = ()

    @property
    def versions(self) -> Versions:
        return Versions(self.agent_version_id, self.manifest_sha256)

    @property
    def ref(self) -> str:
        return f"{self.agent_slug}@{self.agent_version}"


@dataclass(slots=True)
class EngineSettings:
    """Policies of the engine (thresholds are inclusive)."""

    min_asr_confidence: float = 0.6
    low_confidence_turns_to_escalate: int = 2
    tool_failures_to_escalate: int = 3
    not_found_to_escalate: int = 3  # lookups in a row that found nothing: the customer is stuck
    max_model_steps: int = 6
    turn_timeout_s: float = 120.0
    stream: bool = True
    max_tokens: int = 1024


@dataclass(slots=True)
class TurnResult:
    """What one turn produced (also sent as ``turn.completed``)."""

    turn_id: str
    seq: int
    status: str
    answer: str | None = None
    confirm_prompt: str | None = None
    escalated: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    kb_references: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id,
            "seq": self.seq,
            "status": self.status,
            "answer": self.answer,
            "confirm_prompt": self.confirm_prompt,
            "escalated": self.escalated,
            "tool_calls": self.tool_calls,
            "kb_references": self.kb_references,
            "error": self.error,
        }


@dataclass(slots=True)
class _Turn:
    id: str
    seq: int
    budget: TurnBudget
    events: list[EventRow] = field(default_factory=list)
    outcomes: list[CallOutcome] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    confirm_prompt: str | None = None
    status: str = "completed"
    error: dict[str, str] | None = None
    escalated: bool = False
    asked_turn_update: tuple[str, dict[str, Any]] | None = None
    # the turn row's insert, written while the turn runs (awaited before the turn completes)
    opened: Any = None
    # tool_result audit appends still in flight (awaited before the turn completes)
    deferred: list[Any] = field(default_factory=list)
    transcript: str | None = None  # the utterance rewritten (a verification factor hidden): stored instead

    def event(self, event_type: str, payload: dict[str, Any]) -> None:
        self.events.append(EventRow(event_type, payload, self.id))


@dataclass(slots=True)
class SessionState:
    """Everything needed to carry on the conversation (persisted in ``sessions.state``)."""

    language: str | None = None
    channel: str = "chat"  # where answers are said: host/answer.for_channel renders them for it
    messages: list[Message] = field(default_factory=list)
    pending: dict[str, Any] | None = None  # {"call": {...}, "prompt", "turn_id"}
    planner: dict[str, Any] = field(default_factory=dict)
    memories: list[str] = field(default_factory=list)
    low_confidence_streak: int = 0
    failure_streak: int = 0
    not_found_streak: int = 0
    escalated: bool = False
    escalation_reason: str | None = None
    topics: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    answered: int = 0
    failed_turns: int = 0
    approvals: list[str] = field(default_factory=list)  # review ids of approval requests not yet handled
    notices: list[str] = field(default_factory=list)  # crash recovery: told at the next turn (host/recovery.py)
    interrupted: list[dict[str, Any]] = field(default_factory=list)  # crash recovery: writes and their outcome
    writes: list[dict[str, Any]] = field(default_factory=list)  # writes the servers made: {exposed_name, reference}
    verification: dict[str, Any] = field(default_factory=dict)  # caller check: attempts, locked (host/verification.py)
    number_kinds: list[str] = field(default_factory=list)  # kinds of number in the last turn (host/carryover.py)
    _masked: dict[int, tuple[Message, dict[str, Any]]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "channel": self.channel,
            "messages": [m.to_dict() for m in self.messages[-HISTORY_LIMIT:]],
            "pending": self.pending,
            "planner": self.planner,
            "memories": self.memories,
            "low_confidence_streak": self.low_confidence_streak,
            "failure_streak": self.failure_streak,
            "not_found_streak": self.not_found_streak,
            "escalated": self.escalated,
            "escalation_reason": self.escalation_reason,
            "topics": self.topics,
            "orders": self.orders,
            "answered": self.answered,
            "failed_turns": self.failed_turns,
            "approvals": self.approvals,
            "notices": self.notices,
            "interrupted": self.interrupted,
            "writes": self.writes,
            "verification": self.verification,
            "number_kinds": self.number_kinds,
        }

    def to_masked_json(self) -> dict[str, Any]:
        """:meth:`to_json` with personal data masked; each message is masked once and cached."""
        raw = self.to_json()
        kept = self.messages[-HISTORY_LIMIT:]
        cache: dict[int, tuple[Message, dict[str, Any]]] = {}
        masked_messages = []
        for message, plain in zip(kept, raw.pop("messages"), strict=True):
            entry = self._masked.get(id(message))
            if entry is None or entry[0] is not message:
                entry = (message, _masked_message(message, plain))
            cache[id(message)] = entry
            masked_messages.append(entry[1])
        self._masked = cache
        out = masked_json(raw)
        out["messages"] = masked_messages
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> SessionState:
        raw = raw or {}
        fields = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__ and k not in ("messages", "_masked")}
        state = cls(**fields)
        state.messages = [Message.from_dict(m) for m in raw.get("messages", [])]
        return state


def _masked_message(message: Message, plain: dict[str, Any]) -> dict[str, Any]:
    """``masked_json(plain)`` of one message, each tool result's data masked once.

    A result's ``content`` is usually the JSON text of its ``data``: then the masked content is
    the JSON text of the masked data (the same values masked, field by field), instead of a
    second search through the same values as one long string.
    """
    derived: list[int] = []
    results = plain.get("results") or []
    for index, (result, raw) in enumerate(zip(message.results, results, strict=True)):
        if result.data is not None and result.content == json.dumps(result.data, ensure_ascii=False):
            derived.append(index)
            results[index] = {**raw, "content": ""}
    out = masked_json(plain)
    for index in derived:
        entry = out["results"][index]
        entry["content"] = json.dumps(entry["data"], ensure_ascii=False)
    return out


def _trim_history(messages: list[Message], limit: int = HISTORY_LIMIT) -> list[Message]:
    """The last ``limit`` messages, cut at a user message so tool calls keep their results."""
    if len(messages) <= limit:
        return messages
    tail = messages[-limit:]
    for index, msg in enumerate(tail):
        if msg.role == "user":
            return tail[index:]
    return tail
