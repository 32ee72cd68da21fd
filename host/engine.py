"""The conversation engine: one customer session bound to one agent version for its whole life.

Each user turn: record the utterance (with ASR confidence) → escalation policies (asked for a
person, low confidence, an angry customer) → a pending confirmation is answered, or the model
(or offline planner) decides: answer, call tools, ask to confirm, escalate → tools go through
the :class:`~host.tooling.ToolLayer` (the gateway) → the answer with its KB references is
recorded. Ending the session writes a summary and an outcome; the customer's memory server (when
pinned) is read at the start and written at the end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from core.context import RequestContext
from core.errors import SwitchboardError, conflict, invalid
from host import nlu, prompts
from host.answer import for_channel, for_channel_delta
from host.citations import dedupe, find_citations, to_reference
from host.confirm import apply_correction, confirm_prompt
from host.providers.base import (
    Message,
    ModelRequest,
    Provider,
    ProviderError,
    ToolCallRequest,
    ToolResult,
    ToolSpec,
)
from host.recovery import deliver_notices, recover_session, turn_recorded
from host.session import AgentProfile, EngineSettings, SessionState, TurnResult, _trim_history, _Turn
from host.store import EventRow, RecordStore, masked, masked_json, new_call_id, new_id, now
from host.summary import memory_facts, summarise
from host.tooling import (
    CallOutcome,
    ConfirmationGrant,
    ExposedTool,
    Invocation,
    ToolLayer,
    TurnBudget,
    settle_records,
)

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
        created = now()
        disabled = [
            {"exposed_name": t.exposed_name, "reason": t.disabled_reason}
            for t in layer.exposed_tools()
            if not t.enabled
        ]
        await store.create_session(
            {
                "id": conv.session_id,
                "created_at": created,
                "started_at": created,
                "org_id": profile.org_id,
                "customer_ref": customer_ref,
                "channel": channel,
                "caller_masked": masked(caller),
                "agent_id": profile.agent_slug,
                "status": "active",
                "language": language,
                "provider": provider.name,
                "model": profile.model or None,
                "metadata": masked_json(metadata or {}),
                "is_escalated": False,
                "state": {},
                "updated_at": created,
                **profile.versions.columns(),
            },
            [
                EventRow(
                    "SESSION_STARTED",
                    {
                        "agent": profile.ref,
                        "provider": provider.name,
                        "customer_ref": customer_ref,
                        "channel": channel,
                        "disabled_tools": disabled,
                    },
                )
            ],
        )
        conv._held = []  # the memory calls' tool events follow session.started
        await conv._recall_memories()
        held, conv._held = conv._held, None
        await conv._emit(
            "session.started",
            {
                "agent": profile.ref,
                "agent_version_id": profile.agent_version_id,
                "manifest_sha256": profile.manifest_sha256,
                "provider": provider.name,
                "customer_ref": customer_ref,
                "tools": [
                    {"exposed_name": t.exposed_name, "server_version": t.server_version, "policy": t.effective_policy}
                    for t in layer.exposed_tools()
                    if t.enabled
                ],
                "disabled_tools": disabled,
                "memories": len(conv.state.memories),
            },
        )
        for kind, payload in held:
            await conv._emit(kind, payload)
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
        started = row["started_at"] or row["created_at"]
        conv._started = started if started.tzinfo else started.replace(tzinfo=UTC)
        await recover_session(conv)  # turns a crash left open: closed INTERRUPTED (host/recovery.py)
        return conv

    async def end(self, *, outcome: str | None = None) -> dict[str, Any]:
        """End the session: summary, outcome, memories, ``session.ended``."""
        async with self._lock:
            if self.ended:
                raise conflict(f"session {self.session_id} has already ended")
            self.ended = True
            language = self.state.language or "ko"
            summary = summarise(self.state, language)
            final_outcome = outcome or self._outcome()
            await self._store_memories(summary)
            ended = now()
            duration = int((ended - self._started).total_seconds())
            await self.store.update_session(
                self.session_id,
                self.profile.versions,
                {
                    "status": "ended",
                    "ended_at": ended,
                    "duration_sec": duration,
                    "outcome": final_outcome,
                    "summary_text": masked(summary),
                    "state": self.state.to_masked_json(),
                    "language": language,
                },
                [
                    EventRow("SUMMARY_GENERATED", {"summary": summary}),
                    EventRow("SESSION_ENDED", {"outcome": final_outcome, "duration_sec": duration}),
                ],
            )
            result = {"summary": summary, "outcome": final_outcome, "duration_sec": duration}
            await self._emit("session.ended", result)
            return result

    def _outcome(self) -> str:
        """Legacy vocabulary: 이관 (handed to a person), 해결 (answered), 미해결 (not answered)."""
        if self.state.escalated:
            return "이관"
        if self.state.planner.get("unanswered"):  # the offline planner's last fallback was never answered
            return "미해결"
        return "해결" if self.state.answered and not self.state.failed_turns else "미해결"

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
            turn = await self._open_turn(text, asr_confidence, audio_url, start_time, end_time)
            await self._run(turn, self._on_utterance(turn, text, asr_confidence))
            return await self._close_turn(turn)

    async def confirmation_response(self, confirmed: bool, *, correction_text: str | None = None) -> TurnResult:
        """The customer's answer to ``confirmation.requested`` given as a button, not words."""
        async with self._lock:
            self._check_open()
            if not self.state.pending:
                raise conflict("there is no confirmation to answer")
            words = correction_text or ("네" if confirmed else "아니요")
            turn = await self._open_turn(correction_text, None, None, None, None)
            corrected = None
            if correction_text:
                tool = self._tool(self.state.pending["call"]["name"])
                if tool is not None:
                    corrected = apply_correction(tool, self.state.pending["call"]["arguments"] or {}, correction_text)
            coro = self._resolve_pending(
                turn, words, confirmed=confirmed and corrected is None, correction=correction_text, corrected=corrected
            )
            await self._run(turn, coro)
            return await self._close_turn(turn)

    def _check_open(self) -> None:
        if self.ended:
            raise conflict(f"session {self.session_id} has ended")

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
        turn.answer = prompts.text("failed", self.state.language or "ko")
        turn.event("TURN_FAILED", turn.error)
        self.state.failed_turns += 1

    async def _open_turn(
        self,
        text: str | None,
        asr_confidence: float | None,
        audio_url: str | None,
        start_time: str | None,
        end_time: str | None,
    ) -> _Turn:
        if self._next_seq is None:
            self._next_seq = await self.store.next_turn_seq(self.session_id)
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        turn = _Turn(id=new_id(), seq=seq, budget=TurnBudget())
        events = []
        if asr_confidence is not None:
            events.append(
                EventRow(
                    "ASR_RECEIVED",
                    {
                        "seq": seq,
                        "transcript_text": text,
                        "asr_confidence": asr_confidence,
                        "start_time": start_time,
                        "end_time": end_time,
                    },
                    turn.id,
                )
            )
        turn.opened = self.store.submit_start_turn(
            {
                "id": turn.id,
                "session_id": self.session_id,
                "created_at": now(),
                "seq": seq,
                "transcript_text": masked(text),
                "asr_confidence": asr_confidence,
                "audio_url": audio_url,
                "start_time": start_time,
                "end_time": end_time,
                "kb_references": [],
                "tool_call_ids": [],
                "status": "open",
                **self.profile.versions.columns(),
            },
            events,
        )
        return turn

    async def _close_turn(self, turn: _Turn) -> TurnResult:
        await self._settle_records(turn)
        await deliver_notices(self, turn)  # what a crash interrupted, told first (host/recovery.py)
        references = dedupe([to_reference(c) for c in turn.citations])
        if turn.answer is not None and turn.status != "failed":
            turn.event("FINAL_ANSWER_READY", {"seq": turn.seq, "answer": turn.answer, "kb_references": references})
            self.state.answered += 1
        values: dict[str, Any] = {
            "answer_text": masked(turn.answer),
            "final_answer": masked(turn.answer) if turn.status == "completed" else None,
            "confirm_prompt": turn.confirm_prompt,
            "kb_references": references,
            "tool_call_ids": [o.call_id for o in turn.outcomes],
            "status": turn.status,
            "error_code": turn.error["code"] if turn.error else None,
            "completed_at": now(),
        }
        self.state.messages = _trim_history(self.state.messages)
        await self.store.finish_turn(
            turn.id,
            self.session_id,
            self.profile.versions,
            values,
            turn.events,
            session_values={"state": self.state.to_masked_json(), "language": self.state.language},
            other_turn=turn.asked_turn_update,
        )
        result = TurnResult(
            turn_id=turn.id,
            seq=turn.seq,
            status=turn.status,
            answer=turn.answer,
            confirm_prompt=turn.confirm_prompt,
            escalated=turn.escalated,
            tool_calls=[o.summary() for o in turn.outcomes],
            kb_references=references,
            error=turn.error,
        )
        if turn.error:
            await self._emit("error", {"turn_id": turn.id, **turn.error})
        if turn.answer and turn.status != "awaiting_confirmation":
            await self._emit(
                "assistant.message", {"turn_id": turn.id, "text": turn.answer, "kb_references": references}
            )
        await self._emit("turn.completed", result.to_dict())
        return result

    async def _settle_records(self, turn: _Turn) -> None:
        """Nothing of a turn is acknowledged before its records are written.

        The turn row was inserted while the turn ran; each tool call's ``tool_result`` audit
        record was appended off the call's path. A failed insert fails the turn as it always
        did; a failed audit append withholds the answer: the turn fails UNAVAILABLE.
        """
        failures = await settle_records(turn.deferred)
        opened, turn.opened = turn.opened, None
        if opened is not None:
            await opened
        if failures:
            log.error("turn %s: %d tool result(s) could not be audited", turn.id, len(failures))
            self._fail(turn, "UNAVAILABLE", "the audit log cannot be written, so the answer is withheld")

    # the flow -------------------------------------------------------------------------------

    async def _on_utterance(self, turn: _Turn, text: str, asr_confidence: float | None) -> None:
        if self.state.language is None:
            self.state.language = nlu.detect_language(text)
        lang = self.state.language
        if asr_confidence is not None and asr_confidence < self.settings.min_asr_confidence:
            self.state.low_confidence_streak += 1
            if self.state.low_confidence_streak >= self.settings.low_confidence_turns_to_escalate:
                await self._escalate(turn, "low_asr_confidence", detail=f"asr_confidence={asr_confidence}")
            else:
                turn.answer = prompts.text("repeat", lang)
            return
        self.state.low_confidence_streak = 0
        self._note_topic(text)
        if nlu.wants_human(text):
            self.state.messages.append(Message("user", text))
            await self._escalate(turn, "customer", detail=text[:200])
            return
        if nlu.is_angry(text):
            self.state.messages.append(Message("user", text))
            await self._escalate(turn, "angry_customer", detail=text[:200])
            return
        if self.state.pending:
            answer = nlu.confirmation_answer(text)
            tool = self._tool(self.state.pending["call"]["name"])
            corrected = None
            if answer is not True and tool is not None:
                corrected = apply_correction(tool, self.state.pending["call"]["arguments"] or {}, text)
            if answer is True:
                await self._resolve_pending(turn, text, confirmed=True)
                return
            if answer is False or corrected is not None:
                await self._resolve_pending(turn, text, confirmed=False, correction=text, corrected=corrected)
                return
            self._drop_pending(turn, text)
        self.state.messages.append(Message("user", text))
        if self.state.approvals:
            await self._run_approved_calls(turn)
        await self._model_loop(turn)

    def _note_topic(self, text: str) -> None:
        intent = nlu.classify(text)
        if intent.value in prompts.TOPICS and intent.value not in self.state.topics:
            self.state.topics.append(intent.value)
        order = nlu.extract_order_number(text)
        if order and order not in self.state.orders:
            self.state.orders.append(order)

    async def _model_loop(self, turn: _Turn) -> None:
        lang = self.state.language or "ko"
        for _step in range(self.settings.max_model_steps):
            reply = await self.provider.complete(self._request(), self._delta_sink(turn))
            if reply.state is not None:
                self.state.planner = reply.state
            if reply.citations:
                turn.citations.extend(reply.citations)
            if not reply.tool_calls:
                turn.answer = for_channel(reply.text.strip(), self.state.channel) or prompts.text(
                    "too_many_steps", lang
                )
                self.state.messages.append(Message("assistant", turn.answer))
                return
            done = await self._handle_tool_calls(turn, reply.text, reply.tool_calls)
            if done:
                return
        self._fail(turn, "UNAVAILABLE", f"no answer after {self.settings.max_model_steps} model steps")
        turn.answer = prompts.text("too_many_steps", lang)

    async def _handle_tool_calls(self, turn: _Turn, text: str, calls: list[ToolCallRequest]) -> bool:
        """Run a model step's tool calls; True when the turn is over (confirmation, escalation)."""
        lang = self.state.language or "ko"
        results: dict[str, ToolResult] = {}
        to_run: list[ToolCallRequest] = []
        confirm: tuple[ToolCallRequest, ExposedTool] | None = None
        escalate_reason: str | None = None
        for call in calls:
            if call.name == prompts.ESCALATE_TOOL and self._tool(call.name) is None:
                escalate_reason = str((call.arguments or {}).get("reason") or "")[:300]
                results[call.id] = _host_result(call, {"host_status": "escalated"})
                continue
            tool = self._tool(call.name)
            problem = self._precheck(tool, call)
            if problem is not None:
                results[call.id] = _error_result(call, *problem)
                continue
            assert tool is not None
            policy = tool.effective_policy
            if policy == "confirm":
                if confirm is None:
                    confirm = (call, tool)
                else:
                    results[call.id] = _error_result(
                        call, "CONFIRMATION_REQUIRED", "one confirmation at a time: ask for this call again later"
                    )
            elif policy == "approve":
                results[call.id] = await self._request_approval(turn, call, tool)
            else:
                to_run.append(call)
        outcomes = await asyncio.gather(*(self._invoke(turn, call) for call in to_run))
        for call, outcome in zip(to_run, outcomes, strict=True):
            results[call.id] = _outcome_result(call, outcome)
        shown = [c for c in calls if confirm is None or c.id != confirm[0].id]
        if shown:
            self.state.messages.append(Message("assistant", text, tool_calls=shown))
            self.state.messages.append(Message("tool", results=[results[c.id] for c in shown]))
        if escalate_reason is not None:
            await self._escalate(turn, "model", detail=escalate_reason)
            return True
        if self.state.failure_streak >= self.settings.tool_failures_to_escalate:
            await self._escalate(turn, "tool_failures", detail=f"{self.state.failure_streak} failed calls in a row")
            return True
        if confirm is not None:
            await self._ask_confirmation(turn, confirm[0], confirm[1], lang)
            return True
        return False

    def _precheck(self, tool: ExposedTool | None, call: ToolCallRequest) -> tuple[str, str] | None:
        """Problems the model can correct, found before anything is sent or asked."""
        if tool is None:
            return "NOT_FOUND", f"no tool named {call.name!r}: use one of the tools you were given"
        if not tool.enabled:
            return "UNAVAILABLE", f"the tool {call.name!r} is disabled for this session"
        if call.arguments is None:
            return "INVALID_ARGUMENT", "the arguments are not a JSON object"
        if tool.effective_policy == "never":
            return None  # the gateway validates it before anything is sent
        # never ask the customer (or an operator) to confirm arguments the tool would refuse
        errors = self.layer.validate(call.name, call.arguments)
        if errors:
            return "INVALID_ARGUMENT", "; ".join(errors)[:1000]
        return None

    async def _ask_confirmation(self, turn: _Turn, call: ToolCallRequest, tool: ExposedTool, lang: str) -> None:
        prompt = confirm_prompt(tool, call.arguments or {}, lang)
        self.state.pending = {
            "call": {"id": call.id, "name": call.name, "arguments": call.arguments},
            "prompt": prompt,
            "turn_id": turn.id,
        }
        self.state.messages.append(Message("assistant", prompt))
        turn.confirm_prompt = prompt
        turn.status = "awaiting_confirmation"
        turn.event(
            "CONFIRMATION_REQUESTED",
            {"seq": turn.seq, "confirm_prompt": prompt, "exposed_name": call.name, "arguments": call.arguments},
        )
        await self._emit(
            "confirmation.requested",
            {"turn_id": turn.id, "prompt": prompt, "exposed_name": call.name, "arguments": masked_json(call.arguments)},
        )

    async def _resolve_pending(
        self,
        turn: _Turn,
        text: str,
        *,
        confirmed: bool,
        correction: str | None = None,
        corrected: dict[str, Any] | None = None,
    ) -> None:
        pending = self.state.pending or {}
        self.state.pending = None
        call = pending.get("call") or {}
        name, arguments = call.get("name", ""), dict(call.get("arguments") or {})
        tool = self._tool(name)
        turn.asked_turn_update = (
            pending.get("turn_id", ""),
            {
                "user_confirmed": confirmed,
                "confirmation_response": masked(text),
                "correction_text": masked(correction) if correction else None,
            },
        )
        turn.event(
            "CONFIRMATION_RESPONSE",
            {"confirmed": confirmed, "correction_text": correction, "corrected_arguments": corrected},
        )
        self.state.messages.append(Message("user", text))
        run_with: dict[str, Any] | None = arguments if confirmed else None
        if corrected is not None and tool is not None:
            errors = self.layer.validate(name, corrected)
            if errors:
                corrected = None
            elif not tool.is_read:
                # a corrected write is confirmed again, with the new values
                await self._ask_confirmation(
                    turn, ToolCallRequest(_call_id(), name, corrected), tool, self.state.language or "ko"
                )
                return
            else:
                run_with = corrected
        synthetic = ToolCallRequest(_call_id(), name, run_with if run_with is not None else arguments)
        self.state.messages.append(Message("assistant", "", tool_calls=[synthetic]))
        if run_with is None or tool is None:
            result = _host_result(
                synthetic,
                {"host_status": "declined", "message": "The customer did not confirm; the call was not made."},
            )
        else:
            grant = ConfirmationGrant.for_call(name, run_with)
            result = _outcome_result(synthetic, await self._invoke(turn, synthetic, confirmation=grant))
        self.state.messages.append(Message("tool", results=[result]))
        await self._model_loop(turn)

    def _drop_pending(self, turn: _Turn, text: str) -> None:
        """The customer said something else: the pending call is not made."""
        pending = self.state.pending or {}
        self.state.pending = None
        turn.asked_turn_update = (pending.get("turn_id", ""), {"user_confirmed": False})
        turn.event("CONFIRMATION_RESPONSE", {"confirmed": False, "dropped": True})

    async def _request_approval(self, turn: _Turn, call: ToolCallRequest, tool: ExposedTool) -> ToolResult:
        from host.tooling import arguments_digest

        lang = self.state.language or "ko"
        reason = (
            f"승인 요청: {tool.title} ({call.name})" if lang == "ko" else f"approval needed: {tool.title} ({call.name})"
        )
        review_id = await self.store.add_review(
            session_id=self.session_id,
            org_id=self.profile.org_id,
            versions=self.profile.versions,
            reason=reason,
            kind="approval",
            turn_id=turn.id,
            payload={
                "exposed_name": call.name,
                "arguments": call.arguments,
                "arguments_sha256": arguments_digest(call.arguments or {}),
                "server_version": tool.server_version,
                "definition_sha256": tool.definition_sha256,
            },
            events=[EventRow("APPROVAL_REQUESTED", {"exposed_name": call.name, "arguments": call.arguments}, turn.id)],
        )
        self.state.approvals.append(review_id)
        return _host_result(call, {"host_status": "pending_approval", "review_id": review_id})

    async def _run_approved_calls(self, turn: _Turn) -> None:
        """Calls an operator approved (or rejected) since the last turn: run them, tell the model."""
        for item in await self.store.approved_calls(self.session_id):
            if item["id"] in self.state.approvals:
                self.state.approvals.remove(item["id"])
            payload = item["payload"] or {}
            call = ToolCallRequest(_call_id(), payload.get("exposed_name", ""), payload.get("arguments") or {})
            self.state.messages.append(Message("assistant", "", tool_calls=[call]))
            if item["status"] == "Approved":
                outcome = await self._invoke(turn, call, approval_id=item["id"])
                result = _outcome_result(call, outcome)
                await self.store.mark_approval_handled(item["id"], executed=outcome.reached_server)
            else:
                result = _host_result(call, {"host_status": "declined", "message": "An operator rejected this call."})
                await self.store.mark_approval_handled(item["id"], executed=False)
            self.state.messages.append(Message("tool", results=[result]))

    async def _invoke(
        self,
        turn: _Turn,
        call: ToolCallRequest,
        *,
        confirmation: ConfirmationGrant | None = None,
        approval_id: str | None = None,
        actor: str = "model",
    ) -> CallOutcome:
        await turn_recorded(turn, self._tool(call.name))  # a write waits for its turn row (host/recovery.py)
        call_id = new_call_id()
        outcome = await self.layer.call(
            Invocation(
                call_id=call_id,
                exposed_name=call.name,
                arguments=dict(call.arguments or {}),
                context=self._context(call_id),
                turn_id=turn.id,
                budget=turn.budget,
                confirmation=confirmation,
                approval_id=approval_id,
                actor=actor,
                on_event=self._emit,
                deferred=turn.deferred,
            )
        )
        turn.outcomes.append(outcome)
        turn.event("TOOL_CALLED", {"seq": turn.seq, **outcome.summary()})
        if outcome.ok:
            self.state.failure_streak = 0
            turn.citations.extend(c for c in find_citations(outcome.data) if isinstance(c, dict))
        elif outcome.error_code not in _NON_FAILURES:
            self.state.failure_streak += 1
        return outcome

    async def _escalate(self, turn: _Turn, source: str, *, detail: str = "") -> None:
        lang = self.state.language or "ko"
        turn.escalated = True
        turn.status = "escalated"
        if self.state.escalated:
            turn.answer = prompts.text("already_escalated", lang)
        else:
            reason = prompts.reason_text(source, lang)
            self.state.escalated = True
            self.state.escalation_reason = reason
            review_id = await self.store.add_review(
                session_id=self.session_id,
                org_id=self.profile.org_id,
                versions=self.profile.versions,
                reason=reason,
                kind="escalation",
                turn_id=turn.id,
                payload={"source": source, "detail": detail},
                events=[
                    EventRow(
                        "ESCALATED",
                        {"seq": turn.seq, "escalation_reason": reason, "source": source, "detail": detail},
                        turn.id,
                    )
                ],
                session_values={"is_escalated": True, "escalation_reason": reason},
            )
            turn.answer = prompts.text("escalated", lang)
            await self._emit(
                "escalated", {"turn_id": turn.id, "reason": reason, "source": source, "review_id": review_id}
            )
        self.state.messages.append(Message("assistant", turn.answer))

    # memory ---------------------------------------------------------------------------------

    async def _recall_memories(self) -> None:
        from host.memory import recall

        if not self.customer_ref:
            return
        turnless = _Turn(id="", seq=0, budget=TurnBudget())
        self.state.memories = await recall(self, turnless)

    async def _store_memories(self, summary: str) -> None:
        from host.memory import remember

        if not self.customer_ref:
            return
        await remember(self, memory_facts(self.state, summary, self.state.language or "ko"))

    async def host_call(self, exposed_name: str, arguments: dict[str, Any]) -> CallOutcome:
        """A call the host makes on its own behalf (memory), still through the tool layer."""
        call = ToolCallRequest(_call_id(), exposed_name, arguments)
        turn = _Turn(id="", seq=0, budget=TurnBudget())
        call_id = new_call_id()
        outcome = await self.layer.call(
            Invocation(
                call_id=call_id,
                exposed_name=call.name,
                arguments=arguments,
                context=self._context(call_id),
                turn_id=None,
                budget=turn.budget,
                actor="host",
                on_event=self._emit,
            )
        )
        await self.store.add_events(
            self.session_id,
            self.profile.versions,
            [EventRow("TOOL_CALLED", {"actor": "host", **outcome.summary()})],
        )
        return outcome

    # helpers --------------------------------------------------------------------------------

    def _tool(self, name: str) -> ExposedTool | None:
        return next((t for t in self.layer.exposed_tools() if t.exposed_name == name), None)

    def _context(self, trace_id: str) -> RequestContext:
        return RequestContext(
            org_id=self.profile.org_id,
            customer_ref=self.customer_ref,
            session_id=self.session_id,
            agent_version_id=self.profile.agent_version_id,
            manifest_sha256=self.profile.manifest_sha256,
            trace_id=trace_id,
        )

    def tool_specs(self) -> list[ToolSpec]:
        specs = [
            ToolSpec(
                name=t.exposed_name,
                description=t.description,
                input_schema=t.model_schema(),
                tool_name=t.tool_name,
                server_name=t.server_name,
            )
            for t in self.layer.exposed_tools()
            if t.enabled
        ]
        if not any(s.name == prompts.ESCALATE_TOOL for s in specs):
            specs.append(
                ToolSpec(
                    prompts.ESCALATE_TOOL,
                    prompts.ESCALATE_DESCRIPTION,
                    prompts.ESCALATE_SCHEMA,
                    host_builtin=True,
                )
            )
        return specs

    def _request(self) -> ModelRequest:
        lang = self.state.language or "ko"
        return ModelRequest(
            system=prompts.system_prompt(self.profile.system_prompt, lang, self.state.memories),
            messages=list(self.state.messages),
            tools=self.tool_specs(),
            model=self.profile.model,
            max_tokens=self.settings.max_tokens,
            params=dict(self.profile.model_params),
            context={
                "language": lang,
                "memories": self.state.memories,
                "planner": self.state.planner,
                "channel": self.state.channel,
            },
        )

    def _delta_sink(self, turn: _Turn) -> Any:
        if not self.settings.stream or self._emit_cb is None:
            return None

        async def sink(text: str) -> None:
            await self._emit(
                "assistant.delta", {"turn_id": turn.id, "text": for_channel_delta(text, self.state.channel)}
            )

        return sink

    async def _emit(self, event_type: str, payload: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append((event_type, payload))
            return
        if self._emit_cb is not None:
            await self._emit_cb(event_type, {"session_id": self.session_id, **payload})


def _call_id() -> str:
    return f"host_{uuid.uuid4().hex[:12]}"


def _host_result(call: ToolCallRequest, data: dict[str, Any]) -> ToolResult:
    return ToolResult(call.id, call.name, json.dumps(data, ensure_ascii=False), is_error=False, data=data)


def _error_result(call: ToolCallRequest, code: str, message: str) -> ToolResult:
    data = {"code": code, "message": message}
    return ToolResult(call.id, call.name, json.dumps(data, ensure_ascii=False), is_error=True, data=data)


def _outcome_result(call: ToolCallRequest, outcome: CallOutcome) -> ToolResult:
    if outcome.ok:
        return ToolResult(call.id, call.name, outcome.content, is_error=False, data=outcome.data)
    return _error_result(call, outcome.error_code or "INTERNAL", outcome.error_message or "tool error")
