"""``switchboard eval run``: every scenario of a pack, in a fresh tenant, through the real host.

The run shares one set of servers (see :mod:`host.evals.stack`) and one host runtime; each
scenario × trial gets its own org with the agent version under test cloned into it, so the
gateway, pins, policies, audit and records are the ones customers hit. A scenario that hangs
or crashes fails with its error recorded; it never stops the run.

``parallel`` scenarios run at once (``--parallel``): their tenants are separate, and the host and
servers serve many sessions anyway; a scenario that kills a shared server runs alone. Results keep
the pack's order whatever order they finish in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from host.evals.cleanup import RunTenants, prune_tenants
from host.evals.grading import grade
from host.evals.pack import Pack, Scenario
from host.evals.scoring import summarise
from host.evals.simulator import ModelCustomer, ScriptedCustomer
from host.evals.stack import SharedServers
from host.evals.tenant import SourceAgent, fresh_org, setup_tenant
from host.runtime import HostRuntime

SCENARIO_TIMEOUT_S = 180.0


@dataclass
class RunOptions:
    org_id: str
    agent_ref: str
    trials: int = 1
    provider: str | None = None  # None: the agent version's own (offline when its key is missing)
    simulator: str = "scripted"  # scripted | model
    simulator_provider: str | None = None
    simulator_model: str = ""
    only: list[str] = field(default_factory=list)
    provider_factory: Any = None  # tests point the SDKs at the fake model servers
    parallel: int = 1  # scenarios run at once (each in its own tenant); see run_eval
    keep_tenants: bool = False  # leave the tenants for inspection (`eval prune` removes them)


def _agent_item(result: Any) -> dict[str, Any]:
    text = result.confirm_prompt or result.answer or ""
    return {
        "role": "agent",
        "text": text,
        "kind": "confirm" if result.confirm_prompt else ("escalation" if result.escalated else "answer"),
        "escalated": bool(result.escalated),
        "kb_references": [
            {k: r.get(k) for k in ("title", "version", "chunk_id", "kb_id")} for r in result.kb_references or []
        ],
        "error": result.error,
    }


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "tool.completed":
            self.calls.append(
                {k: payload.get(k) for k in ("exposed_name", "ok", "error_code", "server_version", "latency_ms")}
            )


def blank_result(scenario: Scenario, trial: int, org: str | None) -> dict[str, Any]:
    return {
        "id": scenario.id,
        "category": scenario.category,
        "language": scenario.language,
        "title": scenario.title,
        "offline_covered": scenario.offline_covered,
        "trial": trial,
        "org_id": org,
        "transcript": [],
        "calls": [],
        "checks": [],
        "error": None,
    }


async def run_scenario(
    scenario: Scenario,
    trial: int,
    *,
    source: SourceAgent,
    runtime: Any,
    servers: SharedServers,
    opts: RunOptions,
    tenants: RunTenants | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    org = fresh_org(scenario.id, trial)
    if tenants is not None:
        tenants.hold(org)  # before anything is seeded: removed when the run ends, never by another run
    initial = scenario.initial
    customer = initial.get("customer")
    out = blank_result(scenario, trial, org)
    killed: list[str] = []
    try:
        tenant = await setup_tenant(org, source, initial)
        out["kb_version"] = tenant.kb_version
        rec = _Recorder()
        conv = await runtime.start_session(
            org,
            tenant.agent_ref,
            customer_ref=customer if initial.get("verified") else None,
            channel=initial.get("channel", "chat"),
            language=scenario.language,
            emit=rec,
        )
        out["session_id"] = conv.session_id
        if opts.simulator == "model":
            _, sim_provider = runtime.provider_for_name(opts.simulator_provider or "anthropic")
            simulated = ModelCustomer(sim_provider, scenario, model=opts.simulator_model)
        else:
            simulated = ScriptedCustomer(scenario.customer.get("turns") or [])
        async for turn in simulated.turns_for(out["transcript"]):
            if turn.kill_server:
                servers.kill(turn.kill_server)
                killed.append(turn.kill_server)
            if turn.button:
                if not conv.state.pending:
                    out["transcript"].append({"role": "customer", "button": turn.button, "note": "nothing to confirm"})
                    continue
                out["transcript"].append({"role": "customer", "button": turn.button})
                result = await conv.confirmation_response(turn.button == "yes")
            else:
                out["transcript"].append({"role": "customer", "text": turn.text, "asr": turn.asr})
                result = await conv.user_message(turn.text or "", asr_confidence=turn.asr)
            out["transcript"].append(_agent_item(result))
        ended = await conv.end()
        out["ended"] = {k: ended.get(k) for k in ("outcome", "summary")}
        out["calls"] = rec.calls
        checks = await grade(
            expect=scenario.expect,
            org_id=org,
            customer=customer,
            session_id=conv.session_id,
            calls=rec.calls,
            transcript=out["transcript"],
            kb_version=tenant.kb_version,
        )
        out["checks"] = [c.to_dict() for c in checks]
    except Exception as exc:  # a crash fails this scenario, not the run
        message = getattr(exc, "message", None) or repr(exc)
        out["error"] = f"{type(exc).__name__}: {message}"[:1000]
    finally:
        for name in killed:
            await servers.restart(name)
    out["passed"] = out["error"] is None and all(c["ok"] for c in out["checks"])
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


async def run_eval(
    pack: Pack,
    opts: RunOptions,
    *,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    servers: SharedServers | None = None,
) -> dict[str, Any]:
    """Run the pack ``opts.trials`` times; the report is JSON-ready.

    The bundled servers are started for the run and stopped after it, their service token revoked
    (also when the run fails or is interrupted), unless the caller passes a started
    :class:`SharedServers` (several runs in a row, e.g. a pack under two providers, then share one
    stack, and close it: each server's start-up and first embedding of the demo KB are paid once).
    """
    from host.evals.tenant import load_source

    scenarios = pack.select(opts.only)
    source = await load_source(opts.org_id, opts.agent_ref)
    if opts.simulator == "model":
        check_simulator_key(opts.simulator_provider or "anthropic")
    started_at = datetime.now(UTC)
    await prune_tenants()  # tenants a crashed or killed run left behind
    tenants = RunTenants(keep=opts.keep_tenants)
    removal: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as cleanup:
        # first in, last out: after the host and the servers closed, however the run ends
        cleanup.push_async_callback(lambda: _remove(tenants, removal))
        if servers is None:  # started here: stopped here, and its token revoked, however the run ends
            servers = await SharedServers().start()
            cleanup.push_async_callback(servers.close)
        runtime = EvalRuntime(provider_override=opts.provider, connector=servers.connector)
        cleanup.push_async_callback(runtime.close)
        if opts.provider_factory is not None:
            runtime.provider_factory = opts.provider_factory
        jobs = [(trial, scenario) for trial in range(1, opts.trials + 1) for scenario in scenarios]
        slots: list[dict[str, Any] | None] = [None] * len(jobs)
        shared = servers

        async def run_one(index: int) -> None:
            trial, scenario = jobs[index]
            try:
                result = await asyncio.wait_for(
                    run_scenario(
                        scenario, trial, source=source, runtime=runtime, servers=shared, opts=opts, tenants=tenants
                    ),
                    SCENARIO_TIMEOUT_S,
                )
            except TimeoutError:
                result = blank_result(scenario, trial, None)
                result["error"] = f"the scenario did not finish within {SCENARIO_TIMEOUT_S:.0f} s"
                result["passed"] = False
            slots[index] = result
            if on_result is not None:
                on_result(result)

        await run_jobs(len(jobs), run_one, parallel=opts.parallel, alone=[kills_a_server(s) for _, s in jobs])
        results = [r for r in slots if r is not None]
        provider_name = runtime.resolved_provider or opts.provider or source.model.split(":")[0]
    return {
        "run_id": f"ev_{uuid.uuid4().hex[:16]}",
        "pack": pack.name,
        "pack_version": pack.version,
        "pack_digest": pack.digest,
        "agent": source.ref,
        "org_id": source.org_id,
        "agent_version_id": source.agent_version_id,
        "agent_state": source.state,
        "provider": provider_name,
        "simulator": opts.simulator,
        "trials": opts.trials,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "notes": list(runtime.notes),
        "scope": run_scope(pack, scenarios, opts.only),
        "summary": summarise(results, opts.trials),
        "results": results,
        "tenants": removal,
    }


async def _remove(tenants: RunTenants, into: dict[str, Any]) -> None:
    into.update(await tenants.finish())


def run_scope(pack: Pack, scenarios: list[Scenario], only: list[str]) -> dict[str, Any]:
    """What part of the pack a run covered. Only a run of every scenario of the pack is counted by
    the eval gate (``eval run`` records it against the agent version): a run of one category (13
    of 91 scenarios at 100 %) says nothing about the other 78."""
    ran = {s.id for s in scenarios}
    complete = ran == {s.id for s in pack.scenarios}
    return {
        "complete": complete,
        "scenarios": len(ran),
        "pack_scenarios": len(pack.scenarios),
        "only": list(only),
        "left_out": len(pack.scenarios) - len(ran),
        "counted_by_gate": complete,
    }


def kills_a_server(scenario: Scenario) -> bool:
    """Whether a turn of the scenario stops a shared server (it then runs with no other scenario)."""
    return any(isinstance(t, dict) and t.get("kill_server") for t in scenario.customer.get("turns") or [])


async def run_jobs(
    count: int, run_one: Callable[[int], Awaitable[None]], *, parallel: int, alone: Sequence[bool]
) -> None:
    """``run_one(0)``, ``run_one(1)``, ... with at most ``parallel`` running at a time, started in
    order; a job marked ``alone`` waits for the running ones and runs by itself (a scenario that
    kills a shared server would fail the calls of any scenario beside it). A job's exception
    cancels the others and is raised."""
    running: set[asyncio.Task[None]] = set()

    async def settle(until: int) -> None:
        nonlocal running
        while len(running) > until:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()

    try:
        for index in range(count):
            if alone[index]:
                await settle(0)
                await run_one(index)
                continue
            await settle(max(parallel, 1) - 1)
            running.add(asyncio.create_task(run_one(index)))
        await settle(0)
    finally:
        for task in running:
            task.cancel()


def check_simulator_key(name: str) -> None:
    """The model simulator needs a real provider: refuse before any tenant is created."""
    from core.errors import invalid
    from host.providers import resolve_provider_name

    if name not in ("anthropic", "openai"):
        raise invalid("--simulator-provider is anthropic or openai")
    resolved, note = resolve_provider_name(name)
    if resolved != name:
        raise invalid(f"--simulator model: {note}; set the key or use --simulator scripted")


class EvalRuntime(HostRuntime):
    """The host runtime, plus the provider name it resolved and a provider for the simulator."""

    resolved_provider: str | None = None

    def provider_for(self, pinned: Any) -> tuple[str, Any]:
        name, provider = super().provider_for(pinned)
        self.resolved_provider = name
        return name, provider

    def provider_for_name(self, name: str) -> tuple[str, Any]:
        from host.providers import make_provider

        key = ("simulator:" + name, "")
        provider = self._providers.get(key)
        if provider is None:
            factory = self.provider_factory or (lambda n, m, p: make_provider(n, model=m or None, params=p))
            provider = self._providers[key] = factory(name, "", {})
        return name, provider
