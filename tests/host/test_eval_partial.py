"""A partial eval run (``--only``) is reported as partial and never satisfies the eval gate.

A walk: `eval run cs-agent@2 --org demo --only refund_request --trials 4` ran 13 of the pack's 91
scenarios; the gate then passed and `registry agent approve` froze the version citing 100 %. Only
a run of the whole pack is recorded against the agent version (what the gate and approval read);
a partial run still writes its report, which says what it left out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from host.evals import runner
from host.evals.pack import load_pack
from tests.host.test_eval_token import no_processes  # noqa: F401  (a fixture)

PACK = load_pack("ko-callcenter")


@pytest.fixture
def every_scenario_passes(monkeypatch: pytest.MonkeyPatch, no_processes: None) -> None:  # noqa: F811
    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        return {**runner.blank_result(scenario, trial, "eval-x"), "passed": True, "seconds": 0.0}

    monkeypatch.setattr(runner, "run_scenario", run_scenario)


def _cli(sb_env: dict[str, str], *args: str) -> Any:
    from switchboard_cli import build_app

    group = args[0]
    return CliRunner(env=sb_env).invoke(build_app(group), list(args))


def _draft(sb_env: dict[str, str], tmp_path: Any) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원 프롬프트", encoding="utf-8")
    for args in (
        ["registry", "agent", "create", "gated", "--org", "o1"],
        ["registry", "agent", "draft", "gated", "--org", "o1", "--model", "offline:planner", "--prompt-file", "P"],
    ):
        made = _cli(sb_env, *[str(prompt) if a == "P" else a for a in args])
        assert made.exit_code == 0, made.output


def _runs(sb_env: dict[str, str], *extra: str) -> dict[str, Any]:
    done = _cli(sb_env, "eval", "run", "gated@1", "--org", "o1", "--json", *extra)
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_a_partial_run_is_reported_as_partial_and_not_counted_by_the_gate(
    sb_env: dict[str, str], tmp_path: Any, every_scenario_passes: None
) -> None:
    _draft(sb_env, tmp_path)
    gate = _cli(sb_env, "eval", "gate", "--org", "o1", "--min-pass-rate", "0.9", "--pack", "ko-callcenter")
    assert gate.exit_code == 0 and "whole pack" in gate.output, gate.output

    partial = _runs(sb_env, "--only", "refund_request", "--trials", "2")
    scope = partial["scope"]
    refund_ids = [s.id for s in PACK.scenarios if s.category == "refund_request"]
    assert scope == {
        "complete": False,
        "scenarios": len(refund_ids),
        "pack_scenarios": len(PACK.scenarios),
        "only": ["refund_request"],
        "left_out": len(PACK.scenarios) - len(refund_ids),
        "counted_by_gate": False,
    }
    assert partial["summary"]["pass_rate"] == 1.0  # 100 %, of 13 scenarios: not a pass of the pack
    refused = _cli(sb_env, "registry", "agent", "approve", "gated@1", "--org", "o1", "--by", "rev")
    assert refused.exit_code != 0 and "FORBIDDEN" in refused.output, refused.output

    shown = _cli(sb_env, "eval", "run", "gated@1", "--org", "o1", "--only", "refund_request")
    assert shown.exit_code == 0, shown.output
    assert f"partial run: {len(refund_ids)} of {len(PACK.scenarios)} scenarios" in " ".join(shown.output.split())

    whole = _runs(sb_env)
    assert whole["scope"]["complete"] and whole["scope"]["counted_by_gate"] and whole["scope"]["left_out"] == 0
    past_gate = _cli(sb_env, "registry", "agent", "approve", "gated@1", "--org", "o1", "--by", "rev")
    # past the gate: approval runs the version's own checks (this draft binds no tools)
    assert "FORBIDDEN" not in past_gate.output and "binds no tools" in past_gate.output, past_gate.output


def test_naming_every_category_is_the_whole_pack(sb_env: dict[str, str], tmp_path: Any, every_scenario_passes) -> None:
    _draft(sb_env, tmp_path)
    args = [arg for category in sorted({s.category for s in PACK.scenarios}) for arg in ("--only", category)]
    assert _runs(sb_env, *args)["scope"]["complete"] is True
