"""The simulated customer: scripted turns, or a model playing the customer from instructions.

The scripted simulator plays the scenario's turns in order, whatever the agent says (a button
turn answers a pending confirmation; a turn may first kill a server to simulate a failure). The
model-driven simulator asks a provider (anthropic or openai, the host's own abstraction) for the
customer's next line given the goal, persona and the conversation so far; it ends the call when
the model answers ``[END]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from host.providers.base import Message, ModelRequest, Provider

END = "[END]"
_PERSONA = {
    "polite": "polite and patient",
    "angry": "angry and impatient, short sentences, may demand a person",
    "confused": "confused, answers vaguely, sometimes changes their mind",
    "elderly": "elderly, speaks slowly and repeats themselves, unsure about technology",
    "asr_noisy": "speaking on the phone through speech recognition: no punctuation, filler words, misheard words",
    "hostile": "trying to get information or actions they are not entitled to",
}


@dataclass(frozen=True, slots=True)
class CustomerTurn:
    text: str | None = None
    asr: float | None = None
    button: str | None = None  # yes | no
    kill_server: str | None = None


class ScriptedCustomer:
    def __init__(self, turns: list[dict[str, Any]]) -> None:
        self.turns = turns

    async def turns_for(self, transcript: list[dict[str, Any]]) -> AsyncIterator[CustomerTurn]:
        for t in self.turns:
            yield CustomerTurn(t.get("say"), t.get("asr"), t.get("button"), t.get("kill_server"))


class ModelCustomer:
    """A model plays the customer (never sees the agent's tools or the expected outcome)."""

    def __init__(self, provider: Provider, scenario: Any, *, model: str = "", max_turns: int | None = None) -> None:
        self.provider = provider
        self.scenario = scenario
        self.model = model
        sim = scenario.customer.get("simulator") or {}
        self.max_turns = max_turns or int(sim.get("max_turns") or 8)
        self.instructions = sim.get("instructions") or scenario.customer["goal"]

    def system_prompt(self) -> str:
        c = self.scenario.customer
        lang = "Korean" if self.scenario.language == "ko" else "English"
        return (
            "You are role-playing a CUSTOMER calling a call center; the other side is the agent. "
            f"Speak {lang}. Persona: {_PERSONA.get(c['persona'], c['persona'])}. Your goal: {c['goal']}. "
            f"Instructions: {self.instructions}. Reply with the customer's next line only, one or two "
            f"sentences. When your goal is reached or the call cannot go further, reply exactly {END}."
        )

    async def turns_for(self, transcript: list[dict[str, Any]]) -> AsyncIterator[CustomerTurn]:
        first = next((t.get("say") for t in self.scenario.customer.get("turns") or [] if t.get("say")), None)
        if first:
            yield CustomerTurn(first)
        for _ in range(self.max_turns - (1 if first else 0)):
            # roles flip: the agent's lines are the simulator's "user" messages
            messages = [
                Message("user" if item["role"] == "agent" else "assistant", item["text"])
                for item in transcript
                if item.get("text")
            ]
            if not messages or messages[0].role != "user":
                messages.insert(0, Message("user", "(the call connects; the agent greets you)"))
            reply = await self.provider.complete(
                ModelRequest(system=self.system_prompt(), messages=messages, tools=[], model=self.model, max_tokens=200)
            )
            text = (reply.text or "").strip()
            if not text or text.startswith(END):
                return
            yield CustomerTurn(text[:1000])
