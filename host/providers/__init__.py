"""Model providers: Anthropic, OpenAI (Responses or Chat Completions) and the offline planner."""

from __future__ import annotations

import os
from typing import Any

from host.providers.base import (
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    ProviderError,
    ToolCallRequest,
    ToolResult,
    ToolSpec,
)

PROVIDERS = ("anthropic", "openai", "offline")

__all__ = [
    "PROVIDERS",
    "Message",
    "ModelReply",
    "ModelRequest",
    "Provider",
    "ProviderError",
    "ToolCallRequest",
    "ToolResult",
    "ToolSpec",
    "explicit_provider_problem",
    "make_provider",
    "resolve_provider_name",
]


def resolve_provider_name(configured: str | None, override: str | None = None) -> tuple[str, str | None]:
    """(provider to use, a note when it differs from the configured one).

    A real LLM is used only when its API key is set; otherwise the offline planner answers.
    """
    name = (override or configured or "offline").lower()
    if name not in PROVIDERS:
        from core.errors import invalid

        raise invalid(f"unknown model provider {name!r}: choose one of {', '.join(PROVIDERS)}")
    key_var = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}.get(name)
    if key_var and not os.environ.get(key_var):
        return "offline", f"{key_var} is not set: using the offline planner instead of {name}"
    return name, None


def explicit_provider_problem(name: str) -> str | None:
    """Why ``--provider name`` cannot be used as asked (None when it can): an unknown name, or an
    LLM whose API key is not set. An explicit choice is never swapped for the offline planner."""
    name = name.lower()
    if name not in PROVIDERS:
        return f"unknown model provider {name!r}: choose one of {', '.join(PROVIDERS)}"
    key_var = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}.get(name)
    if key_var and not os.environ.get(key_var):
        return (
            f"--provider {name} needs {key_var}: set it, or leave --provider out (the agent version's provider answers)"
        )
    return None


def make_provider(name: str, *, model: str | None = None, params: dict[str, Any] | None = None) -> Provider:
    """A provider instance; the LLM SDKs are imported only when needed."""
    params = params or {}
    if name == "anthropic":
        from host.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(model=model, max_retries=int(params.get("max_retries", 2)))
    if name == "openai":
        from host.providers.openai_provider import OpenAIProvider

        api = params.get("api") or os.environ.get("SWITCHBOARD_OPENAI_API") or "responses"
        return OpenAIProvider(api=api, model=model, max_retries=int(params.get("max_retries", 2)))
    if name == "offline":
        from host.providers.offline import OfflinePlanner

        return OfflinePlanner()
    raise ValueError(f"unknown model provider {name!r}")
