"""Eval tenants are removed: a run's own when it ends, a crashed run's by the next run or `eval prune`.

A walk: every `switchboard eval run` left its `eval-*` orgs in the database for good, with the
scenario's conversation, memories, orders, KB (chunks, vectors, index files) and cloned agent;
a pack may be built from real conversations. Only the report is meant to stay.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from host.evals import runner
from host.evals.cleanup import eval_orgs, tenant_lock
from tests import homefiles
from tests.host.test_eval_token import no_processes, one_scenario_run  # noqa: F401  (fixtures)

SENTENCE = "평가용 대화에서 나온 고객 이야기 김바다 님의 이사 날짜는 다음 주 화요일입니다"


def files_holding(needle: str) -> list[str]:
    return homefiles.files_holding(os.environ["SWITCHBOARD_HOME"], needle)


async def seed_tenant(org: str) -> str:
    """What a scenario leaves in its org: orders, a KB with an index and vectors, an agent, memories."""
    from servers.kb_server.indexes import version_index
    from servers.kb_server.store import UploadItem, create_kb, upload
    from servers.kb_server.vectors import kb_collection_name
    from servers.order_server.seed import seed
    from servers.retrieval.chroma import vector_collection

    await seed(org)
    kb = await create_kb(org, "고객센터")
    done = await upload(org, kb["id"], [UploadItem("story.md", f"# 고객 이야기\n\n{SENTENCE}.\n".encode())])
    await version_index(org, done.kb_id, done.version)
    collection = vector_collection(
        kb_collection_name(org, kb["id"], "test-model"), model_id="test-model", dim=4, extra={"org_id": org}
    )
    collection.upsert(ids=["a" * 64], embeddings=[[0.1, 0.2, 0.3, 0.4]])
    await approved_clone(org, done.kb_id, done.version)
    from host.evals.tenant import add_memories

    await add_memories(org, "cust-1", [f"{SENTENCE}."])
    return kb["id"]


async def approved_clone(org: str, kb_id: str, version: int) -> None:
    """What ``clone_agent`` leaves: an agent with an approved (trigger-frozen) version pinning the KB."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import insert, update

    from core.db import get_engine, write_transaction
    from registry.agents import create_agent
    from registry.tables import agent_version, agent_version_kb

    made = await create_agent(org, "cs-agent", created_by="eval")
    engine = await get_engine()
    av_id, stamp = str(uuid.uuid4()), datetime.now(UTC)
    async with write_transaction(engine, immediate=True) as conn:
        await conn.execute(
            insert(agent_version).values(
                id=av_id,
                agent_id=made.id,
                version=1,
                model_provider="offline",
                model_id="planner",
                model_params={},
                system_prompt="상담원",
                system_prompt_sha256="0" * 64,
                drafted_by="eval",
                drafted_at=stamp,
            )
        )
        await conn.execute(
            insert(agent_version_kb).values(
                id=str(uuid.uuid4()), agent_version_id=av_id, kb_id=kb_id, kb_version=str(version)
            )
        )
        await conn.execute(
            update(agent_version).where(agent_version.c.id == av_id).values(approved_by="eval", approved_at=stamp)
        )


def _collections_of(org: str) -> list[str]:
    from servers.retrieval.chroma import get_client

    client = get_client()
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    return [n for n in names if (client.get_collection(name=n).metadata or {}).get("org_id") == org]


async def test_a_crashed_runs_tenant_is_removed_by_the_next_run_and_a_live_one_is_not(
    database_url: str,
    one_scenario_run: tuple[Any, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    homefiles.rows_are_files(database_url)
    crashed, live = "eval-refund-t1-deadbeef", "eval-refund-t1-livelive"
    kb_id = await seed_tenant(crashed)
    await seed_tenant(live)
    assert files_holding(SENTENCE) and await eval_orgs() == [crashed, live]

    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        return {**runner.blank_result(scenario, trial, "eval-x"), "passed": True, "seconds": 0.0}

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    with tenant_lock(live):  # another eval run is using it
        await runner.run_eval(*one_scenario_run)
    assert await eval_orgs() == [live]
    assert _collections_of(crashed) == [] and _collections_of(live)
    assert not (Path(os.environ["SWITCHBOARD_HOME"]) / "kb-index" / kb_id).exists()

    # the live one goes with `eval prune` once its run is over
    from switchboard_cli import build_app

    pruned = await asyncio.to_thread(CliRunner().invoke, build_app("eval"), ["eval", "prune", "--json"])
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.output)["removed"] == [live]
    assert await eval_orgs() == []
    assert files_holding(SENTENCE) == []


async def test_a_runs_own_tenants_are_removed_when_it_ends_unless_kept(
    database_url: str,
    one_scenario_run: tuple[Any, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []

    async def run_scenario(scenario: Any, trial: int, **kwargs: Any) -> dict[str, Any]:
        org = f"eval-{scenario.id}-t{trial}-{len(made):08d}"
        kwargs["tenants"].hold(org)
        await seed_tenant(org)
        made.append(org)
        return {**runner.blank_result(scenario, trial, org), "passed": True, "seconds": 0.0}

    monkeypatch.setattr(runner, "run_scenario", run_scenario)
    report = await runner.run_eval(*one_scenario_run)
    assert report["tenants"]["removed"] == 1 and report["results"][0]["org_id"] == made[0]
    assert await eval_orgs() == [] and files_holding(SENTENCE) == []

    pack, opts = one_scenario_run
    opts.keep_tenants = True
    kept = await runner.run_eval(pack, opts)
    assert kept["tenants"]["kept"] == [made[1]] and await eval_orgs() == [made[1]]
