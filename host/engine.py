"""The conversation engine: one customer session bound to one agent version for its whole life.

Each user turn passes once through each part, in order: the turn's records are opened
(:mod:`host.turnrecords`) → escalation policies (:mod:`host.escalation`: asked for a person, low
speech confidence, an angry customer) → an answer to a pending confirmation
(:mod:`host.dialogue`) or the model (or offline planner) decides: answer, call tools, ask to
confirm, escalate → tools go through the :class:`~host.tooling.ToolLayer` (the gateway) → the answer
with its KB references is recorded. Ending the session writes a summary and an outcome; the
customer's memory (:mod:`host.memory`) is read at the start and written at the end.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from core import telemetry
from core.context import RequestContext
from core.errors import ErrorCode, SwitchboardError, conflict, invalid
from host import (
    approvals,
    carryover,
    dialogue,
    escalation,
    memory,
    nlu,
    prompts,
    replies,
    sessionrecords,
    toolstep,
    turnrecords,
    verification,
)
from host.answer import for_channel, for_channel_delta
from host.citations import find_citations
from host.modelrequest import model_request, tool_specs
from host.providers.base import Message, Provider, ProviderError, ToolCallRequest, ToolSpec
from host.recovery import deliver_notices, recover_session, turn_recorded
from host.session import AgentProfile, EngineSettings, SessionState, TurnResult, _trim_history, _Turn
from host.store import EventRow, RecordStore, new_call_id, new_id, now
from host.summary import summarise, write_record
from host.telemetry import traced_model_call, turn_span
from host.tooling import CallOutcome, ConfirmationGrant, ExposedTool, Invocation, ToolLayer, TurnBudget

__all__ = ["AgentProfile", "Conversation", "EngineSettings", "SessionState", "TurnResult"]

log = logging.getLogger("switchboard.host.engine")

MAX_UTTERANCE = 4000
_NON_FAILURES = {"INVALID_ARGUMENT", "NOT_FOUND", "CONFLICT", "CONFIRMATION_REQUIRED", "FORBIDDEN"}


class Conversation:
    """One customer session. Methods are serialised: one turn at a time."""

    def __init__(
        self,
        *,
        session_id: str,
        profile: AgentProfile,
        layer: ToolLayer,
        provider: Provider,
        store: RecordStore,
        customer_ref: str | None,
        settings: EngineSettings | None = None,
        state: SessionState | None = None,
        emit: Any = None,
    ) -> None:
        self.session_id = session_id
        self.profile = profile
        self.layer = layer
        self.provider = provider
        self.store = store
        self.customer_ref = customer_ref
        self.settings = settings or EngineSettings()
        self.state = state or SessionState()
        self.ended = False
        self._emit_cb = emit
        self._lock = asyncio.Lock()
        self._started = datetime.now(UTC)
        self._next_seq: int | None = None
        self._held: list[tuple[str, dict[str, Any]]] | None = None

    # lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        *,
        profile: AgentProfile,
        layer: ToolLayer,
        provider: Provider,
        store: RecordStore,
        customer_ref: str | None = None,
        channel: str = "chat",
        caller: str | None = None,
        language: str | None = None,
        settings: EngineSettings | None = None,
        emit: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> Conversation:
        """Open a session: its row, the customer's memories, and ``session.started``."""
        conv = cls(
            session_id=new_id(),
            profile=profile,
            layer=layer,
            provider=provider,
            store=store,
            customer_ref=customer_ref,
            settings=settings,
            state=SessionState(language=language, channel=channel),
            emit=emit,
        )
        conv._next_seq = 1
        disabled = sessionrecords.disabled_tools(layer)
        await sessionrecords.create(
            store, conv.session_id, profile, provider.name, customer_ref, channel, caller, language, metadata, disabled
        )
        replies.warm()  # kiwi loads in the background before the first confirmation
        conv._held = []  # the memory calls' tool events follow session.started
        if customer_ref:
            conv.state.memories = await memory.recall(conv)
        held, conv._held = conv._held, None
        started = sessionrecords.started_payload(profile, provider.name, customer_ref, layer, disabled)
        await conv.emit("session.started", {**started, "memories": len(conv.state.memories)})
        for kind, payload in held:
            await conv.emit(kind, payload)
        return conv

    @classmethod
    async def resume(
        cls,
        session_id: str,
        *,
        profile: AgentProfile,
        layer: ToolLayer,
        provider: Provider,
        store: RecordStore,
        settings: EngineSettings | None = None,
        emit: Any = None,
    ) -> Conversation:
        """Carry on a session another worker started (its state lives in the database)."""
        row = await store.get_session(session_id)
        if row["agent_version_id"] != profile.agent_version_id:
            raise conflict("that session belongs to another agent version: a session keeps its version for life")
        if row["status"] != "active":
            raise conflict(f"session {session_id} has ended")
        conv = cls(
            session_id=session_id,
            profile=profile,
            layer=layer,
            provider=provider,
            store=store,
            customer_ref=row["customer_ref"],
            settings=settings,
            state=SessionState.from_json(row["state"]),
            emit=emit,
        )
        replies.warm()
        started = row["started_at"] or row["created_at"]
        conv._started = started if started.tzinfo else started.replace(tzinfo=UTC)
        await recover_session(conv)  # turns a crash left open: closed INTERRUPTED (host/recovery.py)
        return conv

    async def end(self, *, outcome: str | None = None) -> dict[str, Any]:
        """End the session: summary, outcome, memories, ``session.ended``."""
        given = sessionrecords.given_outcome(outcome)  # checked before anything is written
        async with self._lock:
            if self.ended:
                raise conflict(f"session {self.session_id} has already ended")
            await self._check_stored()  # an erased customer's words are not remembered again
            self.ended = True
            language = self.state.language or "ko"
            summary = summarise(self.state, language)
            host_outcome = sessionrecords.outcome(self.state)
            final_outcome = given or host_outcome
            if self.customer_ref:
                await memory.remember(self, memory.session_facts(self.state, summary, language))
            duration = int((now() - self._started).total_seconds())
            await sessionrecords.close(
                self.store, self.session_id, self.profile, self.state, summary, final_outcome, duration, host_outcome
            )
            result = {"summary": summary, "outcome": final_outcome, "duration_sec": duration}
            await self.emit("session.ended", result)
            return result

    # turns ----------------------------------------------------------------------------------

    async def user_message(
        self,
        text: str,
        *,
        asr_confidence: float | None = None,
        audio_url: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
    ) -> TurnResult:
        """Handle one customer utterance."""
        text = (text or "").strip()
        if not text:
            raise invalid("the message is empty")
        if len(text) > MAX_UTTERANCE:
            raise invalid(f"the message is longer than {MAX_UTTERANCE} characters")
        if asr_confidence is not None and not 0.0 <= asr_confidence <= 1.0:
            raise invalid("asr_confidence must be between 0 and 1")
        async with self._lock:
            self._check_open()
            await self._check_stored()
            # the rest of a number said in the last turn ("나머지는 9012 3456"), masked before
            # anything reads or stores this turn (host/carryover.py)
            text, self.state.number_kinds = carryover.carry(text, self.state.number_kinds)
            speech = {"asr_confidence": asr_confidence, "audio_url": audio_url}
            turn = await self._open_turn(text, **speech, start_time=start_time, end_time=end_time)
            with turn_span(self, turn):
                await self._run(turn, self._on_utterance(turn, text, asr_confidence))
                return await self._close_turn(turn)

    async def confirmation_response(self, confirmed: bool, *, correction_text: str | None = None) -> TurnResult:
        """The customer's answer to ``confirmation.requested`` given as a button, not words."""
        async with self._lock:
            self._check_open()
            await self._check_stored()
            if not self.state.pending:
                raise conflict("there is no confirmation to answer")
            turn = await self._open_turn(correction_text)
            with turn_span(self, turn):
                await self._run(turn, dialogue.on_button(self, turn, confirmed, correction_text))
                return await self._close_turn(turn)

    def _check_open(self) -> None:
        if self.ended:
            raise conflict(f"session {self.session_id} has ended")

    async def _check_stored(self) -> None:
        """CONFLICT when the session's records are gone: the customer was erased (``switchboard
        customer erase``) while the session was open. Nothing more is stored for it: the session's
        end sent the customer's earlier words back to the memory server, and a turn met a foreign
        key error (a privacy walk). One read by primary key a turn."""
        try:
            await self.store.get_session(self.session_id)
        except SwitchboardError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise
            self.ended = True
            raise conflict(
                f"the customer's data was erased while session {self.session_id} was open: nothing more of "
                "this session is stored. Start a new session to go on"
            ) from None

    async def _run(self, turn: _Turn, coro: Any) -> None:
        try:
            async with asyncio.timeout(self.settings.turn_timeout_s):
                await coro
        except TimeoutError:
            self._fail(turn, "UNAVAILABLE", f"the turn took longer than {self.settings.turn_timeout_s:.0f} s")
        except ProviderError as err:
            self._fail(turn, err.code.value, err.message)
        except SwitchboardError as err:
            self._fail(turn, err.code.value, err.message)
        except Exception as exc:
            log.exception("turn %s failed", turn.id)
            self._fail(turn, "INTERNAL", f"internal error ({type(exc).__name__})")

    def _fail(self, turn: _Turn, code: str, message: str) -> None:
        turn.status = "failed"
        turn.error = {"code": code, "message": message}
        turn.answer = prompts.text("failed", self.language)
        turn.event("TURN_FAILED", turn.error)
        self.state.failed_turns += 1

    async def _open_turn(self, text: str | None, **speech: Any) -> _Turn:
        """A new turn (``speech``: asr_confidence, audio_url, start_time, end_time)."""
        if self._next_seq is None:
            self._next_seq = await self.store.next_turn_seq(self.session_id)
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return turnrecords.open_turn(self.store, self.session_id, self.profile.versions, seq, text, **speech)

    async def _close_turn(self, turn: _Turn) -> TurnResult:
        if not await turnrecords.settle(turn):
            self._fail(turn, "UNAVAILABLE", "the audit log cannot be written, so the answer is withheld")
        await deliver_notices(self, turn)  # what a crash interrupted, told first (host/recovery.py)
        references = turnrecords.references(turn)
        if turn.answer is not None and turn.status != "failed":
            turn.event("FINAL_ANSWER_READY", {"seq": turn.seq, "answer": turn.answer, "kb_references": references})
            self.state.answered += 1
        self.state.messages = _trim_history(self.state.messages)
        session_values = {"state": self.state.to_masked_json(), "language": self.state.language}
        result = await turnrecords.close_turn(
            self.store, self.session_id, self.profile.versions, turn, references, session_values
        )
        if turn.error:
            await self.emit("error", {"turn_id": turn.id, **turn.error})
        if turn.answer and turn.status != "awaiting_confirmation":
            await self.emit("assistant.message", {"turn_id": turn.id, "text": turn.answer, "kb_references": references})
        await self.emit("turn.completed", result.to_dict())
        return result

    # the flow -------------------------------------------------------------------------------

    async def _on_utterance(self, turn: _Turn, text: str, asr_confidence: float | None) -> None:
        if self.state.language is None:  # set by the first message with words in it
            self.state.language = nlu.language_of(text)
        if await escalation.screen(self, turn, text, asr_confidence):
            return
        self._note_topic(text)
        if self.state.pending:
            await dialogue.on_reply(self, turn, text)
            return
        self.state.messages.append(Message("user", text))
        if self.state.approvals:
            await approvals.run_approved_calls(self, turn)
        await self.model_loop(turn)

    def _note_topic(self, text: str) -> None:
        intent = nlu.classify(text)
        if intent.value in prompts.TOPICS and intent.value not in self.state.topics:
            self.state.topics.append(intent.value)

    async def model_loop(self, turn: _Turn) -> None:
        """Ask the model (or planner) until it answers, asks to confirm, or escalates."""
        for _step in range(self.settings.max_model_steps):
            if telemetry.ON:  # a chat span and the model's latency (host/telemetry.py)
                reply = await traced_model_call(self, model_request(self), self._delta_sink(turn))
            else:
                reply = await self.provider.complete(model_request(self), self._delta_sink(turn))
            if reply.state is not None:
                self.state.planner = reply.state
            if reply.citations:
                turn.citations.extend(reply.citations)
            if not reply.tool_calls:
                turn.answer = for_channel(reply.text.strip(), self.state.channel) or prompts.text(
                    "too_many_steps", self.language
                )
                self.state.messages.append(Message("assistant", turn.answer))
                return
            if await toolstep.handle_tool_calls(self, turn, reply.text, reply.tool_calls):
                return
        self._fail(turn, "UNAVAILABLE", f"no answer after {self.settings.max_model_steps} model steps")
        turn.answer = prompts.text("too_many_steps", self.language)

    async def invoke(
        self,
        turn: _Turn,
        call: ToolCallRequest,
        *,
        confirmation: ConfirmationGrant | None = None,
        approval_id: str | None = None,
    ) -> CallOutcome:
        """Make one of the model's calls (or a confirmed / approved one) through the tool layer."""
        tool = self.tool(call.name)
        await turn_recorded(turn)  # no call before its turn row is committed (host/recovery.py)
        checks = verification.is_check(tool)  # the caller-verification handshake (host/verification.py)
        refused = await verification.before(self, turn, tool, call) if checks and tool else None
        call_id = new_call_id()
        outcome = refused or await self.layer.call(
            Invocation(
                call_id=call_id,
                exposed_name=call.name,
                arguments=dict(call.arguments or {}),
                context=self.call_context(call_id),
                turn_id=turn.id,
                budget=turn.budget,
                confirmation=confirmation,
                approval_id=approval_id,
                actor="model",
                on_event=self.emit,
                deferred=turn.deferred,
            )
        )
        if checks and refused is None:
            await verification.after(self, turn, call, outcome)
        turn.outcomes.append(outcome)
        turn.event("TOOL_CALLED", {"seq": turn.seq, **outcome.summary()})
        if outcome.ok:
            self.state.failure_streak = 0
            self.state.not_found_streak = 0
            turn.citations.extend(c for c in find_citations(outcome.data) if isinstance(c, dict))
            self._note_order(outcome.data)
            done = write_record(call.name, outcome.data) if tool is not None and not tool.is_read else None
            if done and done["reference"]:  # a write with a receipt (a refund's id): the summary says it was done
                self.state.writes.append(done)
        elif outcome.error_code == "NOT_FOUND":
            self.state.not_found_streak += 1
        elif outcome.error_code not in _NON_FAILURES:
            self.state.failure_streak += 1
        return outcome

    def _note_order(self, data: Any) -> None:
        """An order a server returned (only those: a number the customer typed may be someone else's)."""
        order = data.get("order_id") if isinstance(data, dict) else None
        if order and str(order) not in self.state.orders:
            self.state.orders.append(str(order))

    async def host_call(
        self, exposed_name: str, arguments: dict[str, Any], *, confirmation: ConfirmationGrant | None = None
    ) -> CallOutcome:
        """A call the host makes on its own behalf (memory, an order's facts), still through the tool layer."""
        call_id = new_call_id()
        outcome = await self.layer.call(
            Invocation(
                call_id=call_id,
                exposed_name=exposed_name,
                arguments=arguments,
                context=self.call_context(call_id),
                turn_id=None,
                budget=TurnBudget(),
                confirmation=confirmation,
                actor="host",
                on_event=self.emit,
            )
        )
        await self.store.add_events(
            self.session_id, self.profile.versions, [EventRow("TOOL_CALLED", {"actor": "host", **outcome.summary()})]
        )
        if outcome.ok:
            self._note_order(outcome.data)
        return outcome

    # helpers --------------------------------------------------------------------------------

    @property
    def language(self) -> str:
        return self.state.language or "ko"

    def tool(self, name: str) -> ExposedTool | None:
        return next((t for t in self.layer.exposed_tools() if t.exposed_name == name), None)

    def call_context(self, trace_id: str) -> RequestContext:
        return RequestContext(
            org_id=self.profile.org_id,
            customer_ref=self.customer_ref,
            session_id=self.session_id,
            agent_version_id=self.profile.agent_version_id,
            manifest_sha256=self.profile.manifest_sha256,
            trace_id=trace_id,
        )

    def tool_specs(self) -> list[ToolSpec]:
        return tool_specs(self.layer)

    def _request(self) -> Any:
        return model_request(self)

    def _delta_sink(self, turn: _Turn) -> Any:
        if not self.settings.stream or self._emit_cb is None:
            return None

        async def sink(text: str) -> None:
            await self.emit(
                "assistant.delta", {"turn_id": turn.id, "text": for_channel_delta(text, self.state.channel)}
            )

        return sink

    async def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append((event_type, payload))
            return
        if self._emit_cb is not None:
            await self._emit_cb(event_type, {"session_id": self.session_id, **payload})
