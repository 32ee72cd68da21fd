"""What the conversation's parts (confirmation dialogue, escalation, approvals, memory) need of it.

:class:`~host.engine.Conversation` implements this protocol; the parts depend on the protocol, not
on the engine, so no module imports the engine back.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.context import RequestContext
from host.providers.base import ToolCallRequest
from host.session import AgentProfile, EngineSettings, SessionState, _Turn
from host.store import RecordStore
from host.tooling import CallOutcome, ConfirmationGrant, ExposedTool, ToolLayer


class ConversationPort(Protocol):
    session_id: str
    profile: AgentProfile
    layer: ToolLayer
    store: RecordStore
    customer_ref: str | None
    settings: EngineSettings
    state: SessionState

    @property
    def language(self) -> str: ...

    def tool(self, name: str) -> ExposedTool | None: ...

    def call_context(self, trace_id: str) -> RequestContext: ...

    async def emit(self, event_type: str, payload: dict[str, Any]) -> None: ...

    async def invoke(
        self,
        turn: _Turn,
        call: ToolCallRequest,
        *,
        confirmation: ConfirmationGrant | None = None,
        approval_id: str | None = None,
    ) -> CallOutcome: ...

    async def host_call(
        self, exposed_name: str, arguments: dict[str, Any], *, confirmation: ConfirmationGrant | None = None
    ) -> CallOutcome: ...

    async def model_loop(self, turn: _Turn) -> None: ...
