"""Issue 15, the parts around the runner: pack validation, scoring, reports, compare, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ErrorCode, SwitchboardError
from host.evals.grading import raw_pii
from host.evals.pack import load_pack
from host.evals.scoring import pass_hat_k, summarise

GOOD = {
    "id": "ok-one",
    "category": "refund_status",
    "language": "ko",
    "title": "환불 상태",
    "offline_covered": True,
    "initial": {"customer": "C-1001", "verified": True, "channel": "유선"},
    "customer": {"goal": "환불 상태", "persona": "polite", "turns": [{"say": "8841 환불 상태요"}]},
    "expect": {"refund_rows": {"8841": 1}},
}


def _pack(tmp_path: Path, items: list, meta: dict | None = None) -> Path:
    (tmp_path / "scenarios").mkdir(parents=True, exist_ok=True)
    (tmp_path / "pack.json").write_text(
        json.dumps(meta or {"name": "tp", "version": "1.0.0", "format": 1, "description": ""}), encoding="utf-8"
    )
    (tmp_path / "scenarios" / "a.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_a_good_pack_loads(tmp_path):
    pack = _pack(tmp_path, [GOOD])
    loaded = load_pack(pack)
    assert loaded.ref == "tp@1.0.0" and [s.id for s in loaded.scenarios] == ["ok-one"]
    assert loaded.select(["refund_status"])[0].id == "ok-one"
    with pytest.raises(SwitchboardError) as err:
        loaded.select(["nothing-like-it"])
    assert err.value.code is ErrorCode.INVALID_ARGUMENT


def test_sloppy_packs_get_every_problem_at_once(tmp_path):
    bad_turn = {**GOOD, "id": "bad-turn", "customer": {**GOOD["customer"], "turns": [{"say": "네", "button": "yes"}]}}
    unknown = {**GOOD, "id": "unknown-cat", "category": "billing"}
    no_expect = {k: v for k, v in GOOD.items() if k != "expect"} | {"id": "no-expect"}
    injected_field = {**GOOD, "id": "extra", "expect": {"refund_rows": {"8841": 1}, "ignore_previous": True}}
    dup = dict(GOOD)
    pack = _pack(tmp_path, [GOOD, dup, bad_turn, unknown, no_expect, injected_field, "not an object"])
    with pytest.raises(SwitchboardError) as err:
        load_pack(pack)
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    message = err.value.message
    for needle in (
        "also used in",
        "a.json[2]",
        "billing",
        "'expect' is a required property",
        "ignore_previous",
        "a.json[6]",
    ):
        assert needle in message, (needle, message)
    assert "fix them and run again" in message


def test_not_a_pack_and_broken_json(tmp_path):
    with pytest.raises(SwitchboardError, match=r"needs a pack\.json"):
        load_pack(tmp_path)
    pack = _pack(tmp_path, [GOOD])
    (pack / "scenarios" / "b.json").write_text("[{'id': 1,]", encoding="utf-8")
    with pytest.raises(SwitchboardError, match=r"b.json is not JSON: .* at line 1 column"):
        load_pack(pack)
    with pytest.raises(SwitchboardError, match="format"):
        load_pack(_pack(tmp_path / "v2", [GOOD], {"name": "tp", "version": "1", "format": 2, "description": ""}))


def _r(sid: str, passed: bool, trial: int = 1, cat: str = "shipping", covered: bool = True) -> dict:
    return {"id": sid, "passed": passed, "trial": trial, "category": cat, "language": "ko", "offline_covered": covered}


def test_pass_hat_k_is_the_chance_that_k_runs_all_pass():
    # a: 3/3, b: 2/3, c: 0/3 → pass^1 = (1 + 2/3 + 0)/3, pass^2 = (1 + 1/3 + 0)/3, pass^3 = 1/3
    results = [_r("a", True, t) for t in (1, 2, 3)]
    results += [_r("b", ok, t) for t, ok in ((1, True), (2, False), (3, True))]
    results += [_r("c", False, t) for t in (1, 2, 3)]
    assert pass_hat_k(results, 3) == {"1": round(5 / 9, 4), "2": round(4 / 9, 4), "3": round(1 / 3, 4)}
    s = summarise([*results, _r("d", False, 1, "policy_kb", covered=False)], 3)
    assert s["covered_failures"] == ["b", "c"]
    assert s["not_covered"] == {"runs": 1, "passed": 0, "pass_rate": 0.0}
    assert s["by_category"]["shipping"]["passed"] == 5


def test_raw_personal_data_in_any_stored_column_is_found():
    records = {
        "turns": [{"transcript_text": "제 주민번호는 900101-1234567", "args_hmac": "900101-1234567"}],
        "event_logs": [{"payload": {"text": "카드 4111 1111 1111 1111"}}],
        "sessions": [{"caller_masked": "010-****-5678", "summary_text": "환불 상태 문의"}],
    }
    found = raw_pii(records)
    assert any(f.startswith("turns.transcript_text") for f in found)
    assert any(f.startswith("event_logs.payload") for f in found)
    assert not any(f.startswith(("sessions", "turns.args_hmac")) for f in found)


async def test_the_grader_reads_what_is_under_an_audit_seal_not_the_ciphertext(database_url):
    """Scanning ciphertext checks nothing, and its base64 now and then reads as a value ("/CvC…123"
    is a CVC label and digits): the grader opens sealed payloads and scans the plain text."""
    from audit import append, close
    from audit.sealing import seal
    from audit.subjects import subject_key
    from host.evals.grading import session_records
    from tests.audit.helpers import drop_guards, event, sql

    try:
        rec = await append(event(1, org="grade", customer_ref="C-1", arguments={"note": "x"}))
        rows = (await session_records("grade", "no-such-session"))["audit_event"]
        assert [r["args_redacted"] for r in rows] == ['{"note":"x"}'] and raw_pii({"audit_event": rows}) == []
        # a raw value that got under the seal (as a bug in redaction would put it) is found
        await drop_guards()
        key = subject_key("grade", "C-1", create=False)
        raw = seal(key, rec.event_id, "result_redacted", '{"phone":"010-1234-5678"}')
        await sql("UPDATE audit_event SET result_redacted = :v WHERE event_id = :e", {"v": raw, "e": rec.event_id})
        rows = (await session_records("grade", "no-such-session"))["audit_event"]
        assert raw_pii({"audit_event": rows}) == ["audit_event.result_redacted: phone"]
    finally:
        await close()


def _report(run_id: str, outcomes: dict[str, bool], agent: str = "cs-agent@1") -> dict:
    results = [
        _r(sid, ok, cat="refund_request") | {"title": sid, "checks": [], "transcript": []}
        for sid, ok in outcomes.items()
    ]
    return {
        "run_id": run_id,
        "agent": agent,
        "provider": "offline",
        "summary": summarise(results, 1),
        "results": results,
    }


def test_compare_shows_two_runs_side_by_side(tmp_path):
    from switchboard_cli import build_app

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report("ev_a", {"x": True, "y": True})), encoding="utf-8")
    b.write_text(json.dumps(_report("ev_b", {"x": True, "y": False}, "cs-agent@2")), encoding="utf-8")
    result = CliRunner().invoke(build_app("eval"), ["eval", "compare", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert ["all", "100.0%", "50.0%", "-50.0 pt"] in out["rows"]
    assert out["changed"] == [["y", "pass", "FAIL"]]
    missing = CliRunner().invoke(build_app("eval"), ["eval", "compare", str(a), "ev_nope"])
    assert missing.exit_code != 0 and "eval report 'ev_nope' is too short" in missing.output


# --- the gate -------------------------------------------------------------------------------


async def _draft(org: str) -> None:
    from registry.agents import create_agent, draft_agent_version

    await create_agent(org, "gated", created_by="t")
    await draft_agent_version(org, "gated", model="offline:planner", system_prompt="p", tools=[], drafted_by="t")


def _eval_report(org: str, version_id: str, rate: float) -> dict:
    return {
        "run_id": f"ev_{int(rate * 100)}",
        "org_id": org,
        "agent_version_id": version_id,
        "agent": "gated@1",
        "pack": "ko-callcenter",
        "pack_version": "1.0.0",
        "provider": "offline",
        "simulator": "scripted",
        "trials": 1,
        "summary": {
            "runs": 10,
            "passed": int(rate * 10),
            "pass_rate": rate,
            "by_category": {},
            "pass_hat_k": {},
            "covered": {},
        },
    }


async def test_the_gate_refuses_approval_below_the_minimum_and_audits_overrides(database_url):
    import dataclasses

    from audit import find
    from registry.agents import agent_version_info, approve_agent_version
    from registry.gate import check_approval, gate_before_approve, record_result, set_gate

    org = "gated-org"
    await _draft(org)
    info = await agent_version_info(org, "gated", 1)
    # no gate: approval needs nothing
    assert await gate_before_approve(org, "gated", 1, actor="t", override_reason=None) is None
    with pytest.raises(SwitchboardError) as err:
        await set_gate(org, 1.5, pack=None, set_by="lead")
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    await set_gate(org, 0.9, pack="ko-callcenter", set_by="lead")
    with pytest.raises(SwitchboardError) as err:
        await gate_before_approve(org, "gated", 1, actor="t", override_reason=None)
    assert err.value.code is ErrorCode.FORBIDDEN and "no whole run of ko-callcenter" in err.value.message
    await record_result(_eval_report(org, info.id, 0.8))
    with pytest.raises(SwitchboardError) as err:
        await gate_before_approve(org, "gated", 1, actor="t", override_reason=None)
    assert "80.0%" in err.value.message and "--override-gate" in err.value.message
    with pytest.raises(SwitchboardError) as err:
        await check_approval(org, info.id, "gated@1", actor="t", override_reason="ok")
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    reason = "hotfix for outage, owner 010-1234-5678 approves"
    latest = await gate_before_approve(org, "gated", 1, actor="ops", override_reason=reason)
    assert latest is not None and latest.pass_rate == 0.8
    events = await find(org_id=org, event_type="agent_eval_gate_overridden")
    stored = json.dumps(dataclasses.asdict(events[0]), ensure_ascii=False, default=str)  # as stored: sealed
    opened = json.dumps(events[0].details, ensure_ascii=False, default=str)  # opened with the org's key
    assert len(events) == 1 and "hotfix for outage" in opened
    assert "010-1234-5678" not in opened and "010-1234-5678" not in stored
    await record_result(_eval_report(org, info.id, 0.95))
    latest = await gate_before_approve(org, "gated", 1, actor="t", override_reason=None)
    assert latest.pass_rate == 0.95 and "95.0%" in latest.line()
    # past the gate, approval runs the version's own checks: this draft binds no tools (issue 18)
    with pytest.raises(SwitchboardError) as err:
        await approve_agent_version(org, "gated", 1, approved_by="t")
    assert "binds no tools" in err.value.message


def test_registry_agent_approve_runs_the_gate(sb_env, tmp_path):
    from switchboard_cli import build_app

    app = build_app("registry")
    runner = CliRunner(env=sb_env)
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원 프롬프트", encoding="utf-8")
    for args in (
        ["registry", "agent", "create", "gated", "--org", "o1"],
        [
            "registry",
            "agent",
            "draft",
            "gated",
            "--org",
            "o1",
            "--model",
            "offline:planner",
            "--prompt-file",
            str(prompt),
        ],
    ):
        made = runner.invoke(app, args)
        assert made.exit_code == 0, made.output
    gate = CliRunner(env=sb_env).invoke(build_app("eval"), ["eval", "gate", "--org", "o1", "--min-pass-rate", "0.9"])
    assert gate.exit_code == 0, gate.output
    refused = runner.invoke(app, ["registry", "agent", "approve", "gated@1", "--org", "o1", "--by", "rev"])
    assert refused.exit_code != 0 and "FORBIDDEN" in refused.output


async def test_the_gate_migration_matches_its_tables(database_url):
    from registry.gate import agent_eval_gate, agent_eval_result
    from tests.dbcheck import migration_differences

    differences, heads = await migration_differences({agent_eval_gate.name, agent_eval_result.name})
    assert differences == []
    assert "registry_0003" in heads


async def test_jobs_run_at_most_n_at_a_time_in_order_and_a_server_killer_runs_alone():
    import asyncio

    from host.evals.runner import run_jobs

    running: set[int] = set()
    seen: list[tuple[str, int, frozenset[int]]] = []
    alone = [False, False, False, True, False, False]

    async def job(index: int) -> None:
        running.add(index)
        seen.append(("start", index, frozenset(running)))
        await asyncio.sleep(0.01 * (3 - index % 3))  # later jobs finish first
        running.discard(index)

    await run_jobs(len(alone), job, parallel=2, alone=alone)
    starts = [(i, others) for kind, i, others in seen if kind == "start"]
    assert [i for i, _ in starts] == list(range(len(alone)))  # started in the pack's order
    assert max(len(others) for _, others in starts) == 2  # two at a time ...
    assert dict(starts)[3] == {3}  # ... but the server killer with nothing beside it
    assert not any(3 in others for i, others in starts if i != 3)

    async def failing(index: int) -> None:
        if index == 1:
            raise RuntimeError("boom")
        await asyncio.sleep(0.05)

    with pytest.raises(RuntimeError, match="boom"):
        await run_jobs(4, failing, parallel=2, alone=[False] * 4)


def test_eval_run_with_an_llm_provider_and_no_key_is_an_error_not_an_offline_run(sb_env, monkeypatch):
    """A walk: `eval run --provider anthropic` without a key ran the offline planner and, over the
    whole pack, was recorded against the version and counted by the gate."""

    from host.evals.cli import app

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["run", "cs-agent@1", "--org", "demo", "--provider", "anthropic"])
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.output, result.output
