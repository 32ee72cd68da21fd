"""`switchboard eval run` revokes the trusted service token it made for its servers when the run
ends: finished, failed, or interrupted (Ctrl-C cancels the run's task).

A walk: every run left an active trusted token behind; `switchboard tokens list --json` showed
``{"label": "switchboard eval run", "trusted": true, "revoked_at": null}`` piling up. A trusted
token may name any org and customer in ``_meta``: one left active is a standing credential.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import unavailable
from host.evals import runner
from host.evals.pack import load_pack
from host.evals.stack import SharedServers

LABEL = "switchboard eval run"


async def _tokens() -> list[Any]:
    from servers.kit.tokens import list_tokens

    return [t for t in await list_tokens() if t.label == LABEL]


async def _active() -> list[Any]:
    return [t for t in await _tokens() if t.revoked_at is None]


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers are not spawned: what is under test is the token's life, not the processes."""

    async def spawn(self: SharedServers, name: str) -> None:
        self.urls[name] = f"http://127.0.0.1:1/{name}"

    monkeypatch.setattr(SharedServers, "_spawn", spawn)


@pytest.fixture
def one_scenario_run(monkeypatch: pytest.MonkeyPatch, no_processes: None) -> tuple[Any, Any]:
    source = SimpleNamespace(
        ref="cs-agent@1", org_id="demo", agent_version_id="av-1", state="approved", model="offline"
    )

    async def load_source(org_id: str, ref: str) -> Any:
        return source

    monkeypatch.setattr("host.evals.tenant.load_source", load_source)
    pack = load_pack("ko-callcenter")
    opts = runner.RunOptions(org_id="demo", agent_ref="cs-agent@1", only=[pack.scenarios[0].id], provider="offline")
    return pack, opts


async def test_start_makes_one_trusted_token_and_close_revokes_it(database_url: str, no_processes: None) -> None:
    servers = await SharedServers().start()
    [token] = await _active()
    assert token.trusted and token.org_id is None
    await servers.close()
    assert await _active() == [] and len(await _tokens()) == 1
    await servers.close()  # twice is harmless


async def test_a_server_that_does_not_start_leaves_no_active_token(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def spawn(self: SharedServers, name: str) -> None:
        raise unavailable(f"the {name} server exited while starting")

    monkeypatch.setattr(SharedServers, "_spawn", spawn)
    with pytest.raises(Exception, match="exited while starting"):
        await SharedServers().start()
    assert len(await _tokens()) == 1 and await _active() == []


async def test_a_finished_run_revokes_its_token(
    database_url: str, one_scenario_run: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        assert await _active(), "the token is active while the run uses it"
        return {**runner.blank_result(scenario, trial, "eval-x"), "passed": True, "seconds": 0.0}

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    report = await runner.run_eval(*one_scenario_run)
    assert report["summary"]["runs"] == 1
    assert len(await _tokens()) == 1 and await _active() == []


async def test_a_failed_run_revokes_its_token(
    database_url: str, one_scenario_run: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        return {**runner.blank_result(scenario, trial, "eval-x"), "passed": True}

    def on_result(result: dict[str, Any]) -> None:
        raise RuntimeError("the report could not be printed")

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    with pytest.raises(RuntimeError):
        await runner.run_eval(*one_scenario_run, on_result=on_result)
    assert len(await _tokens()) == 1 and await _active() == []


async def test_an_interrupted_run_revokes_its_token(
    database_url: str, one_scenario_run: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C: asyncio.run cancels the command's task while a scenario runs."""
    started = asyncio.Event()

    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    task = asyncio.create_task(runner.run_eval(*one_scenario_run))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(await _tokens()) == 1 and await _active() == []


async def test_servers_a_caller_passes_keep_their_token_until_the_caller_closes_them(
    database_url: str, one_scenario_run: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several runs sharing one stack (the pack test, a pack under two providers) share its token."""

    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        return {**runner.blank_result(scenario, trial, "eval-x"), "passed": True}

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    servers = await SharedServers().start()
    await runner.run_eval(*one_scenario_run, servers=servers)
    await runner.run_eval(*one_scenario_run, servers=servers)
    assert len(await _active()) == 1
    await servers.close()
    assert await _active() == []
