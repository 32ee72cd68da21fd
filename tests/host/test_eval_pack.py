"""Issue 15: the bundled Korean call-center pack, run with the offline planner and the scripted
simulator through the real host, gateway and servers (spawned once over HTTP, a fresh org per
scenario). Every scenario the offline planner is declared to cover must pass; the rest are
reported in the test output, not hidden.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter

import pytest

from host.evals.pack import CATEGORIES, load_pack
from host.evals.report import category_rows, failure_lines

pytestmark = pytest.mark.timeout(600)


# scenarios the tests below look into
EXAMINED = (
    "rr-ko-confirm-8822",
    "rr-ko-dont-8833",
    "long-ko-pii-everywhere",
    "sf-ko-orders-lookup",
    "sf-ko-orders-refund",
)


def postgres_subset(pack) -> list[str]:
    """On the PostgreSQL pass, the first covered scenario of each category (the SQLite pass runs all)."""
    if os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") != "postgres":
        return []
    first: dict[str, str] = {}
    for s in pack.scenarios:
        if s.offline_covered:
            first.setdefault(s.category, s.id)
    return sorted(set(first.values()) | set(EXAMINED))


async def _closing(coro):
    import audit
    from core.db import dispose_engines

    try:
        return await coro
    finally:
        await audit.close()
        await dispose_engines()


@pytest.fixture(scope="module")
def demo_agent(module_database_url: str) -> str:
    """The bundled servers published and approved, cs-agent frozen in org demo (once per module)."""
    from registry.demo import publish_and_approve_demo

    info = asyncio.run(_closing(publish_and_approve_demo("demo", ["orders", "kb", "memory"])))
    return info.ref


@pytest.fixture(scope="module")
def servers(demo_agent: str):
    """One stack of bundled servers for every run of this module (as a caller running a pack
    several times would share it): start-up and the demo KB's first embedding are paid once."""
    from host.evals.stack import SharedServers

    stack = asyncio.run(_closing(SharedServers().start()))
    yield stack
    asyncio.run(_closing(stack.close()))  # servers stopped, the stack's token revoked


@pytest.fixture(scope="module")
def offline_report(demo_agent: str, servers) -> dict:
    from host.evals.runner import RunOptions, run_eval

    pack = load_pack("ko-callcenter")
    # two at a time, as `--parallel 2` runs them (the scenario that kills a server runs alone)
    opts = RunOptions(org_id="demo", agent_ref=demo_agent, only=postgres_subset(pack), parallel=2)
    report = asyncio.run(_closing(run_eval(pack, opts, servers=servers)))
    print()
    for row in category_rows(report):
        print("  ".join(f"{c:<18}" for c in row))
    for result in report["results"]:
        if not result["passed"]:
            print("\n".join(failure_lines(result, transcript=False)))
    return report


def test_the_pack_is_big_enough_and_mostly_korean():
    pack = load_pack("ko-callcenter")
    langs = Counter(s.language for s in pack.scenarios)
    assert len(pack.scenarios) >= 80 and langs["ko"] >= 60
    assert {s.category for s in pack.scenarios} == set(CATEGORIES)
    assert all(any(s.category == c and s.offline_covered for s in pack.scenarios) for c in CATEGORIES)


def test_every_offline_covered_scenario_passes(offline_report):
    s = offline_report["summary"]
    assert s["covered_failures"] == [], json.dumps(
        [r for r in offline_report["results"] if r["offline_covered"] and not r["passed"]], ensure_ascii=False
    )[:4000]
    assert s["covered"]["runs"] >= (11 if postgres_subset(load_pack("ko-callcenter")) else 70)
    assert set(s["by_category"]) == set(CATEGORIES)
    assert s["pass_hat_k"]["1"] == s["pass_rate"]


def test_each_scenario_ran_in_its_own_tenant_with_graded_state(offline_report):
    results = offline_report["results"]
    assert len({r["org_id"] for r in results}) == len(results)
    by_id = {r["id"]: r for r in results}
    # the refund was really filed in the tenant's order tables, and nothing else was
    confirm = {c["check"]: c for c in by_id["rr-ko-confirm-8822"]["checks"]}
    assert confirm["refund rows"]["actual"] == {"8822": 1}
    deny = {c["check"]: c for c in by_id["rr-ko-dont-8833"]["checks"]}
    assert deny["refund rows"]["actual"] == {"8833": 0}
    assert deny["action request_refund was not called"]["ok"]
    # the personal data the customer read out is nowhere in the stored records
    pii = {c["check"]: c for c in by_id["long-ko-pii-everywhere"]["checks"]}
    assert pii["no raw personal data stored"]["ok"] and pii["no raw personal data stored"]["actual"] == []


def test_a_killed_server_fails_the_call_not_the_run(offline_report):
    by_id = {r["id"]: r for r in offline_report["results"]}
    killed = by_id["sf-ko-orders-lookup"]
    assert killed["error"] is None
    assert any(c["exposed_name"].endswith("get_order") and not c["ok"] for c in killed["calls"])
    # the next scenarios got the server back
    after = by_id["sf-ko-orders-refund"]
    assert any(c["exposed_name"].endswith("get_order") and c["ok"] for c in after["calls"])


# --- the anthropic and openai paths: the same runner against the fake model servers --------------

PLUMBING_PACK = {
    "id": "plumb-status-8841",
    "category": "refund_status",
    "language": "ko",
    "title": "모델이 환불 상태를 조회",
    "offline_covered": False,
    "initial": {"customer": "C-1001", "verified": True, "channel": "chat"},
    "customer": {
        "goal": "8841 환불이 언제 끝나는지 알기",
        "persona": "asr_noisy",
        "turns": [{"say": "환불 어떻게 됐어요 주문번호 8841 이요 제 번호는 010-1234-5678"}],
        "simulator": {"instructions": "주문번호 8841의 환불 완료 예정일을 물어본다", "max_turns": 3},
    },
    "expect": {
        "actions_required": ["get_refund_status"],
        "actions_forbidden": ["request_refund"],
        "refund_rows": {"8841": 1},
        "escalated": False,
    },
}


def _brain(conv):
    from tests.host.fake_llm import FakeStep

    if "role-playing a CUSTOMER" in conv.system:  # the model-driven simulator
        heard = [p for role, kind, p in conv.events if role == "user" and kind == "text"]  # the agent's lines
        return FakeStep(text="[END]" if len(heard) > 2 else "그래서 언제 끝나요? 8841이요")
    results = conv.results_since_user()
    if results:
        return FakeStep(text=f"조회 결과입니다: {results[-1]['content'][:200]}")
    name = next(n for n in conv.tool_names if n.endswith("get_refund_status"))
    return FakeStep(text="확인해 볼게요.", tool_calls=[(name, {"order_id": "8841"})])


def _factory(llm):
    from host.providers.anthropic_provider import AnthropicProvider
    from host.providers.openai_provider import OpenAIProvider

    def make(name: str, model: str, params: dict):
        if name == "anthropic":
            return AnthropicProvider(api_key="sk-fake", base_url=llm.anthropic_url, max_retries=0, model="claude-fake")
        if name == "openai":
            return OpenAIProvider(api="responses", api_key="sk-fake", base_url=llm.openai_url, max_retries=0)
        from host.providers import make_provider

        return make_provider(name, model=model or None, params=params)

    return make


async def _run_with(provider: str, simulator: str, llm, tmp_path, servers) -> dict:
    from host.evals.runner import RunOptions, run_eval

    folder = tmp_path / provider
    (folder / "scenarios").mkdir(parents=True)
    (folder / "pack.json").write_text(
        json.dumps({"name": "plumbing", "version": "1.0.0", "format": 1, "description": "fake models"})
    )
    (folder / "scenarios" / "a.json").write_text(json.dumps([PLUMBING_PACK], ensure_ascii=False))
    opts = RunOptions(
        org_id="demo",
        agent_ref="cs-agent",
        provider=provider,
        simulator=simulator,
        simulator_provider=provider,
        trials=2,
        provider_factory=_factory(llm),
    )
    return await _closing(run_eval(load_pack(folder), opts, servers=servers))


@pytest.mark.parametrize(("provider", "simulator"), [("anthropic", "model"), ("openai", "scripted")])
def test_model_providers_run_through_the_same_runner(demo_agent, servers, provider, simulator, tmp_path, monkeypatch):
    from tests.host.fake_llm import FakeLLM

    monkeypatch.setenv("ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY", "sk-fake")

    with FakeLLM(_brain) as llm:
        report = asyncio.run(_run_with(provider, simulator, llm, tmp_path, servers))
        paths = {r["path"] for r in llm.requests}
        systems = [json.dumps(b.get("system") or b.get("instructions") or "", ensure_ascii=False) for b in llm.bodies()]
    assert report["provider"] == provider
    results = report["results"]
    assert [r["trial"] for r in results] == [1, 2]
    for r in results:
        assert r["error"] is None, r["error"]
        assert r["passed"], [c for c in r["checks"] if not c["ok"]]
        customer_lines = [t for t in r["transcript"] if t["role"] == "customer"]
        # model: the scripted opening line, one simulated line, then the simulator says [END]
        assert len(customer_lines) == (2 if simulator == "model" else 1)
    assert report["summary"]["pass_hat_k"] == {"1": 1.0, "2": 1.0}
    assert any(p.endswith("/messages" if provider == "anthropic" else "/responses") for p in paths), paths
    simulated = [s for s in systems if "role-playing a CUSTOMER" in s]
    if simulator == "model":  # the simulator got the persona and goal, never the expected outcome
        assert simulated and all("8841 환불이 언제 끝나는지" in s and "refund_rows" not in s for s in simulated)
    else:
        assert not simulated
