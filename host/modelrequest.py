"""What the model is shown on each step: the host's prompt, the history, and the pinned tools."""

from __future__ import annotations

from host import prompts
from host.port import ConversationPort
from host.providers.base import ModelRequest, ToolSpec
from host.tooling import ToolLayer


def tool_specs(layer: ToolLayer) -> list[ToolSpec]:
    """The enabled pinned tools as the model sees them, plus the host's escalation tool."""
    specs = [
        ToolSpec(
            name=t.exposed_name,
            description=t.description,
            input_schema=t.model_schema(),
            tool_name=t.tool_name,
            server_name=t.server_name,
        )
        for t in layer.exposed_tools()
        if t.enabled
    ]
    if not any(s.name == prompts.ESCALATE_TOOL for s in specs):
        specs.append(
            ToolSpec(prompts.ESCALATE_TOOL, prompts.ESCALATE_DESCRIPTION, prompts.ESCALATE_SCHEMA, host_builtin=True)
        )
    return specs


def _max_tokens(conv: ConversationPort) -> int:
    """The agent version's ``max_tokens`` (``agent draft --param max_tokens=300``, checked when it
    was drafted), else the host's setting. It was never read: every answer could run to the
    host's 1,024 tokens whatever the agent version said."""
    value = conv.profile.model_params.get("max_tokens")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return conv.settings.max_tokens


def model_request(conv: ConversationPort) -> ModelRequest:
    state, lang = conv.state, conv.language
    return ModelRequest(
        system=prompts.system_prompt(conv.profile.system_prompt, lang, state.memories, handed_over=state.escalated),
        messages=list(state.messages),
        tools=tool_specs(conv.layer),
        model=conv.profile.model,
        max_tokens=_max_tokens(conv),
        params=dict(conv.profile.model_params),
        context={
            "language": lang,
            "memories": state.memories,
            "planner": state.planner,
            "channel": state.channel,
            "verified": bool(conv.customer_ref),
            "handed_over": state.escalated,
        },
    )
