"""Optional model review of added conversations: better extraction and ADD/UPDATE/SUPERSEDE/NONE.

Off unless ``SWITCHBOARD_MEMORY_MODEL`` names a provider and model — ``anthropic:<model>`` or
``openai:<model>`` — and that provider's key is set (``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``;
``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL`` and ``SWITCHBOARD_OPENAI_API=responses|chat`` work as
for the host). ``add_memory`` never waits for it: the deterministic write path answers at once,
and the review runs afterwards as a background task. The model sees the conversation and the
customer's most similar current memories (with ids) and answers JSON decisions; each decision
goes through the same write path (dedup, supersede, history with actor ``model:<id>``), and a
target id outside the caller's scope is ignored. Failures are logged (type only) and dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

log = logging.getLogger("switchboard.memory")

REVIEW_TIMEOUT_S = 60.0
MAX_CONTEXT_MEMORIES = 12
MAX_FACTS = 20
_tasks: set[asyncio.Task[Any]] = set()
_semaphore: asyncio.Semaphore | None = None

PROMPT = """You maintain long-term memory about one customer of a call center.
From the conversation, extract durable facts and preferences about the customer (not about the agent),
in the conversation's language, one short sentence each. For each, decide against the existing memories:
- ADD: new information;
- UPDATE: an existing memory says the same thing less completely (give target_id and the merged text);
- SUPERSEDE: the fact replaces an existing one about the same subject, e.g. a new address (give target_id);
- NONE: already known.
Answer only JSON: {"facts": [{"text": "...", "action": "ADD|UPDATE|SUPERSEDE|NONE", "target_id": "id or null"}]}

Existing memories:
{memories}

Conversation:
{conversation}
"""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    provider: str
    model: str

    @property
    def actor(self) -> str:
        return f"model:{self.provider}:{self.model}"[:200]


def model_config() -> ModelConfig | None:
    """The configured review model, or None (not configured, or its API key is missing)."""
    raw = (os.environ.get("SWITCHBOARD_MEMORY_MODEL") or "").strip()
    if not raw or raw.lower() in {"off", "none", "0", "false"} or ":" not in raw:
        return None
    provider, model = raw.split(":", 1)
    provider = provider.strip().lower()
    key = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}.get(provider)
    if key is None or not os.environ.get(key) or not model.strip():
        return None
    return ModelConfig(provider, model.strip())


def schedule_review(service: Any, scope: Any, messages: list[Any], observed_at: datetime | None, metadata: Any) -> bool:
    """Start a background review of ``messages`` when a model is configured; True when started."""
    config = model_config()
    if config is None or not messages:
        return False
    conversation = [(m.role, m.content) for m in messages if m.content.strip()]
    task = asyncio.get_running_loop().create_task(
        _review(service, replace(scope, actor=config.actor), conversation, observed_at, metadata, config)
    )
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return True


async def wait_for_reviews() -> None:
    """Wait for every review started in this process (tests, shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)


async def _review(
    service: Any,
    scope: Any,
    conversation: list[tuple[str, str]],
    observed_at: datetime | None,
    metadata: Any,
    config: ModelConfig,
) -> None:
    global _semaphore
    if _semaphore is None:
        _semaphore = asyncio.Semaphore(2)
    try:
        async with _semaphore:
            await asyncio.wait_for(_run(service, scope, conversation, observed_at, metadata, config), REVIEW_TIMEOUT_S)
    except Exception as exc:
        log.warning("memory model review failed: %s", type(exc).__name__)


async def _run(
    service: Any,
    scope: Any,
    conversation: list[tuple[str, str]],
    observed_at: datetime | None,
    metadata: Any,
    config: ModelConfig,
) -> None:
    from servers.memory_server.ranking import RankOptions

    customer_text = " ".join(text for role, text in conversation if role not in ("assistant", "agent", "system"))
    hits = await service.search(scope, customer_text[:1000] or "memory", RankOptions(top_k=MAX_CONTEXT_MEMORIES))
    memories = "\n".join(f"- id={h.doc.id}: {h.doc.text}" for h in hits) or "(none)"
    transcript = "\n".join(f"{role}: {text}" for role, text in conversation)
    prompt = PROMPT.replace("{memories}", memories).replace("{conversation}", transcript[:20_000])
    answer = await _complete(config, prompt)
    decisions = parse_decisions(answer)
    known = {h.doc.id for h in hits}
    await apply_decisions(service, scope, decisions, known, observed_at, metadata)


def parse_decisions(answer: str) -> list[dict[str, Any]]:
    """The decisions in a model answer (tolerates prose or code fences around the JSON)."""
    match = re.search(r"\{.*\}", answer, re.DOTALL)
    if not match:
        return []
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return []
    out = []
    for item in (data.get("facts") or [])[:MAX_FACTS] if isinstance(data, dict) else []:
        if not isinstance(item, dict):
            continue
        text = item.get("text")
        action = str(item.get("action", "ADD")).upper()
        target = item.get("target_id")
        if not isinstance(text, str) or not text.strip() or action not in {"ADD", "UPDATE", "SUPERSEDE", "NONE"}:
            continue
        out.append(
            {"text": text.strip()[:2000], "action": action, "target_id": target if isinstance(target, str) else None}
        )
    return out


async def apply_decisions(
    service: Any,
    scope: Any,
    decisions: list[dict[str, Any]],
    known: set[str],
    observed_at: datetime | None,
    metadata: Any,
) -> None:
    """Apply model decisions through the normal write path; unknown targets are ignored."""
    from servers.memory_server.extract import categorize, kind_of
    from servers.memory_server.slots import detect_slots

    for decision in decisions:
        action, target, text = decision["action"], decision["target_id"], decision["text"]
        if action == "NONE":
            continue
        if target is not None and target not in known:
            target = None  # never act on a memory the model was not shown (or another customer's)
        if action == "UPDATE" and target:
            await service.update(scope, target, text)
            continue
        from servers.memory_server.extract import Candidate

        slots = detect_slots(text)
        candidate = Candidate(
            text=text,
            kind=kind_of(text, slots),
            categories=categorize(text, slots),
            slots=slots,
            source="model",
            observed_at=observed_at,
            supersedes=[target] if action == "SUPERSEDE" and target else [],
        )
        await service.add(scope, [candidate], metadata=metadata)


async def _complete(config: ModelConfig, prompt: str) -> str:
    if config.provider == "anthropic":
        import anthropic

        client = anthropic.AsyncAnthropic(max_retries=1, timeout=REVIEW_TIMEOUT_S)
        reply = await client.messages.create(
            model=config.model, max_tokens=1500, messages=[{"role": "user", "content": prompt}]
        )
        return "".join(getattr(block, "text", "") for block in reply.content)
    import openai

    client = openai.AsyncOpenAI(max_retries=1, timeout=REVIEW_TIMEOUT_S)
    if (os.environ.get("SWITCHBOARD_OPENAI_API") or "responses").lower() == "chat":
        chat = await client.chat.completions.create(model=config.model, messages=[{"role": "user", "content": prompt}])
        return chat.choices[0].message.content or ""
    response = await client.responses.create(model=config.model, input=prompt)
    return response.output_text or ""
