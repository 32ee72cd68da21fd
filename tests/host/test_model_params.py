"""The model parameters an agent version sets (``registry agent draft --param``) reach the model.

A walk (docs/registry.md shows ``--param max_tokens=300``): ``max_tokens`` was never read, so
every answer could run to the host's 1,024 tokens, and the OpenAI APIs dropped ``top_p``. With
``temperature`` set, every Anthropic turn failed: the SDK (2.x, API version 2026-10-21) has no
sampling arguments, so they are not sent there. Real SDKs against the local fake model server,
every wire API.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.host.conftest import PROFILE, make_layer
from tests.host.fake_llm import FakeLLM
from tests.host.test_providers import PROVIDERS, make_provider, refund_brain

LIMIT = {"anthropic": "max_tokens", "responses": "max_output_tokens", "chat": "max_completion_tokens"}


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_the_agent_versions_parameters_are_sent(kind, start):
    profile = dataclasses.replace(PROFILE, model_params={"max_tokens": 300, "temperature": 0.2, "top_p": 0.9})
    with FakeLLM(refund_brain) as llm:
        conv = await start(make_layer(), provider=make_provider(kind, llm), profile=profile)
        await conv.user_message("환불 문의요")
        body = llm.bodies()[-1]
    assert body[LIMIT[kind]] == 300
    if kind == "anthropic":  # API version 2026-10-21 refuses sampling parameters (SDK 2.x has none)
        assert "temperature" not in body and "top_p" not in body
        assert conv.state.failed_turns == 0
    else:
        assert body["temperature"] == 0.2 and body["top_p"] == 0.9


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_without_parameters_the_hosts_limit_is_sent(kind, start):
    with FakeLLM(refund_brain) as llm:
        conv = await start(make_layer(), provider=make_provider(kind, llm))
        await conv.user_message("환불 문의요")
        body = llm.bodies()[-1]
    assert body[LIMIT[kind]] == 1024
    assert "top_p" not in body and "temperature" not in body
