"""A verbatim turn that opens with a pronoun is embedded with the turn before it; deleting,
erasing or rewriting that turn takes its text out of the linked turn's vectors."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from servers.memory_server.passage import opens_with_pronoun, passage_texts
from tests.servers.memory.conftest import drain_vectors

# (text, opens with a pronoun): written to be wrong in — words that begin like a pronoun, ASR
# without capitals or punctuation, quotes, Korean words that start with 그/이 but are not pronouns
LABELLED = [
    ("It is the second-longest river in Central Europe.", True),
    ("it ships from busan i think", True),
    ("He moved there in 1998.", True),
    ("She said the refund was already sent", True),
    ("They never called me back.", True),
    ("This is the third time I'm asking.", True),
    ("That one, the blue jacket.", True),
    ("These arrived broken", True),
    ("Those were the old prices.", True),
    ("His order number ends in 42.", True),
    ("Her card was charged twice.", True),
    ("Its capital is Bonn.", True),
    ("Their office is closed on Sundays.", True),
    ("There are three stores in Seoul.", True),
    ('"It was raining," she said.', True),
    ("  this was delivered to the wrong door", True),
    ("그는 1984년에 MBC에 입사했다.", True),
    ("그녀는 두 번째 앨범을 냈다", True),
    ("그것은 유럽에서 두 번째로 긴 강이다.", True),
    ("이는 당시 최고 기록이었다.", True),
    ("그곳은 주말에 문을 닫아요", True),
    ("그들의 사무실은 부산에 있다", True),
    ("Item 3 is missing.", False),
    ("Iterate over the orders, please.", False),
    ("Thesis: refunds take 3 days.", False),
    ("Theyre", False),
    ("Hello, I want a refund.", False),
    ("I moved to Busan last week.", False),
    ("Therefore I'd like to cancel.", False),
    ("Heavy boxes go to the back door.", False),
    ("Hers", False),
    ("Thatcher was prime minister.", False),
    ("", False),
    ("그런데 환불은 아직 하지 마세요", False),
    ("그냥 문 앞에 두세요", False),
    ("이번 주에 이사했어요", False),
    ("이름은 김철수예요", False),
    ("그래서 주문을 취소했어요", False),
    ("환불은 아직 하지 마세요. 그건 나중에요", False),
    ("배송지는 그곳이 아니에요", False),
]


@pytest.mark.parametrize(("text", "expected"), LABELLED)
def test_the_pronoun_gate(text: str, expected: bool) -> None:
    assert opens_with_pronoun(text) is expected


def test_the_context_row_comes_last_and_carries_both_speakers() -> None:
    texts = passage_texts("It is 1,230 km long.", {"speaker": "Ana"}, ("Tell me about the Rhine.", {"speaker": "Bo"}))
    assert texts == ["Ana: It is 1,230 km long.", "Bo: Tell me about the Rhine.\nAna: It is 1,230 km long."]
    two = passage_texts("It is long. It flows north.", None, ("The Rhine?", None))
    assert two[1:3] == ["It is long.", "It flows north."] and two[3] == "The Rhine?\nIt is long. It flows north."


async def _rows() -> dict[str, Any]:
    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_item, memory_vector

    engine = await memory_engine()
    async with engine.connect() as conn:
        items = (await conn.execute(select(memory_item))).mappings().all()
        vectors = {r.memory_id: r for r in await conn.execute(select(memory_vector))}
    return {
        r["text"]: {
            "id": r["id"],
            "context_id": r["context_id"],
            "vector": vectors.get(r["id"]),
            "model": r["vector_model"],
        }
        for r in items
    }


def _messages(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": "user" if name == "Ana" else "assistant", "name": name, "content": text} for name, text in turns]


RHINE = ("Bo", "Tell me about the Rhine.")
LONG = ("Ana", "It is the second-longest river in Central and Western Europe.")
BUSAN = ("Ana", "I moved to Busan last week.")


async def test_links_follow_the_turns_of_one_call(call) -> None:
    out = await call("add_memory", {"messages": _messages(RHINE, LONG, BUSAN), "infer": False})
    assert out["ok"], out
    rows = await _rows()
    assert rows[LONG[1]]["context_id"] == rows[RHINE[1]]["id"]
    assert rows[RHINE[1]]["context_id"] is None and rows[BUSAN[1]]["context_id"] is None
    # extracted memories (infer=true) never link: their text is no longer the turn as said
    await call("add_memory", {"messages": _messages(RHINE, ("Ana", "It was delivered to my old address."))})
    extracted = [r for text, r in (await _rows()).items() if text.startswith("It was delivered")]
    assert extracted and all(r["context_id"] is None for r in extracted)


async def test_a_calls_first_turn_continues_its_run_and_only_its_run(call) -> None:
    await call("add_memory", {"messages": _messages(RHINE), "infer": False, "run_id": "call-1"})
    await call("add_memory", {"messages": _messages(("Bo", "And the Danube?")), "infer": False, "run_id": "call-2"})
    await call("add_memory", {"messages": _messages(LONG), "infer": False, "run_id": "call-1"})
    await call("add_memory", {"messages": _messages(("Ana", "It flows north.")), "infer": False})  # no run
    rows = await _rows()
    assert rows[LONG[1]]["context_id"] == rows[RHINE[1]]["id"]  # not the Danube of another call
    assert rows["It flows north."]["context_id"] is None


async def test_another_customers_turn_is_never_the_context(database_url) -> None:
    from fastmcp import Client

    from tests.servers.memory.conftest import Caller, server_for

    async with Client(server_for(customer="C1")) as one, Client(server_for(customer="C2")) as two:
        await Caller(one)("add_memory", {"messages": _messages(RHINE), "infer": False, "run_id": "shared-run"})
        await Caller(two)("add_memory", {"messages": _messages(LONG), "infer": False, "run_id": "shared-run"})
    assert (await _rows())[LONG[1]]["context_id"] is None


async def test_deleting_the_turn_before_unlinks_without_vectors(call) -> None:
    """With vectors off the link is still kept and removed, so turning vectors on later is right."""
    await call("add_memory", {"messages": _messages(RHINE, LONG), "infer": False})
    rows = await _rows()
    assert (await call("delete_memory", {"id": rows[RHINE[1]]["id"]}))["ok"]
    after = await _rows()
    assert RHINE[1] not in after and after[LONG[1]]["context_id"] is None
    # rewriting the pronoun turn so it no longer opens with one drops its link as well
    await call("add_memory", {"messages": _messages(RHINE, ("Ana", "It is long.")), "infer": False})
    linked = (await _rows())["It is long."]
    assert linked["context_id"] is not None
    assert (await call("update_memory", {"id": linked["id"], "text": "The Rhine is long."}))["ok"]
    assert (await _rows())["The Rhine is long."]["context_id"] is None


def _blob(row: Any) -> np.ndarray:
    return np.frombuffer(row.vector, dtype=np.float32).reshape(-1, row.dim)


def _embed(*texts: str) -> np.ndarray:
    from servers.memory_server.service import get_service

    return np.asarray(get_service().embedder.embed_passages(list(texts)))


@pytest.mark.vectors
async def test_the_turn_before_reaches_the_vectors_and_leaves_them_when_erased(call) -> None:
    await call("add_memory", {"messages": _messages(RHINE, LONG), "infer": False})
    await drain_vectors()
    rows = await _rows()
    blob = _blob(rows[LONG[1]]["vector"])
    assert blob.shape[0] == 2  # the whole turn, then the turn before with it
    expected = _embed(f"Ana: {LONG[1]}", f"Bo: {RHINE[1]}\nAna: {LONG[1]}")
    assert np.allclose(blob, expected, atol=1e-4)

    # the turn before is rewritten: the linked vectors follow the new text
    new_text = "Tell me about the Danube."
    assert (await call("update_memory", {"id": rows[RHINE[1]]["id"], "text": new_text}))["ok"]
    await drain_vectors()
    blob = _blob((await _rows())[LONG[1]]["vector"])
    assert np.allclose(blob[1], _embed(f"Bo: {new_text}\nAna: {LONG[1]}")[0], atol=1e-4)

    # the turn before is deleted: no vector keeps its text, the turn is embedded alone again
    assert (await call("delete_memory", {"id": rows[RHINE[1]]["id"]}))["ok"]
    after = await _rows()
    assert after[LONG[1]]["vector"] is None and after[LONG[1]]["context_id"] is None  # dropped at once
    await drain_vectors()
    blob = _blob((await _rows())[LONG[1]]["vector"])
    assert blob.shape[0] == 1 and np.allclose(blob, _embed(f"Ana: {LONG[1]}"), atol=1e-4)
    hits = (await call("search_memories", {"query": "Danube", "mode": "dense", "top_k": 5}))["results"]
    assert [h["text"] for h in hits] == [LONG[1]]  # found, but only by its own text now


@pytest.mark.vectors
@pytest.mark.parametrize("change", ["delete", "update"])
async def test_a_change_while_the_worker_embeds_wins(call, monkeypatch, change: str) -> None:
    """The worker read the turn before and is embedding; the turn before is deleted or rewritten
    meanwhile. The vector computed with its old text must not be stored."""
    from servers.memory_server.service import get_service

    await call("add_memory", {"messages": _messages(BUSAN), "infer": False})
    await drain_vectors()
    embedder = get_service().worker.embedder
    started, release = threading.Event(), threading.Event()
    real = embedder.embed_passages

    def slow(texts: list[str]) -> Any:
        if any(RHINE[1] in t for t in texts[1:]):  # the batch with the old context row
            started.set()
            assert release.wait(60)
        return real(texts)

    monkeypatch.setattr(embedder, "embed_passages", slow)
    await call("add_memory", {"messages": _messages(RHINE, LONG), "infer": False})
    for _ in range(600):
        if started.is_set():
            break
        await asyncio.sleep(0.05)
    assert started.is_set()
    rhine = (await _rows())[RHINE[1]]["id"]
    if change == "delete":
        assert (await call("delete_memory", {"id": rhine}))["ok"]
        expected = _embed(f"Ana: {LONG[1]}")
    else:
        assert (await call("update_memory", {"id": rhine, "text": "Tell me about the Danube."}))["ok"]
        expected = _embed(f"Ana: {LONG[1]}", f"Bo: Tell me about the Danube.\nAna: {LONG[1]}")
    release.set()
    await drain_vectors()
    blob = _blob((await _rows())[LONG[1]]["vector"])
    assert blob.shape == expected.shape and np.allclose(blob, expected, atol=1e-4)


@pytest.mark.vectors
async def test_a_customer_erase_leaves_no_linked_vector_behind(call) -> None:
    from servers.memory_server.service import get_service

    await call("add_memory", {"messages": _messages(RHINE, LONG, BUSAN), "infer": False})
    await drain_vectors()
    erasure_id, removal = await get_service().erase_customer("acme", "C1", actor="dpo")
    assert erasure_id and removal.memories == 3 and removal.vectors == 3
    assert await _rows() == {}


# --- any sequence of writes: no dangling link, and every vector is what is stored now ----------

TURNS = [
    ("Bo", "Tell me about the Rhine."),
    ("Ana", "It is the second-longest river in Central and Western Europe."),
    ("Ana", "It flows north into the sea"),
    ("Bo", "그 강은 어디로 흘러요?"),
    ("Ana", "그것은 북해로 흘러간다."),
    ("Ana", "I moved to Busan last week."),
    ("Bo", "This is the third time I'm asking. Where is my order?"),
    ("Ana", "They said it ships tomorrow"),
]
OPS = st.one_of(
    st.tuples(
        st.just("add"),
        st.lists(st.sampled_from(TURNS), min_size=1, max_size=3),
        st.sampled_from([None, "r1", "r2"]),
    ),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("update"), st.integers(0, 20), st.sampled_from([t[1] for t in TURNS] + ["It is long."])),
    st.tuples(st.just("delete_run"), st.sampled_from(["r1", "r2"])),
)


async def _apply(ops: list[tuple[Any, ...]], customer: str) -> None:
    from core.errors import SwitchboardError
    from servers.memory_server.extract import Message, verbatim
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service
    from servers.memory_server.vectors import VectorWorker

    service = get_service()
    service.worker = VectorWorker(service)
    await service.worker.start(backlog=False)
    ids: list[str] = []
    for op in ops:
        try:
            if op[0] == "add":
                scope = Scope("acme", customer, run_id=op[2], actor="t")
                msgs = [Message(role="user", content=text, name=name) for name, text in op[1]]
                ids.extend(o.id for o in await service.add(scope, verbatim(msgs)) if o.id)
            elif op[0] == "delete" and ids:
                await service.delete(Scope("acme", customer, actor="t"), ids[op[1] % len(ids)])
            elif op[0] == "update" and ids:
                await service.update(Scope("acme", customer, actor="t"), ids[op[1] % len(ids)], op[2])
            elif op[0] == "delete_run":
                await service.delete_all(Scope("acme", customer, run_id=op[1], actor="t"))
        except SwitchboardError as err:  # deleted already, or a duplicate text after an update
            assert err.code.value in {"NOT_FOUND", "CONFLICT", "INVALID_ARGUMENT"}, err
        if op[0] != "add":
            await asyncio.sleep(0)  # let the worker embed between writes now and then
    assert await service.worker.drain(timeout=120)


async def _check(customer: str) -> None:
    from servers.memory_server.db import memory_engine
    from servers.memory_server.service import get_service
    from servers.memory_server.tables import memory_item, memory_vector

    engine = await memory_engine()
    async with engine.connect() as conn:
        items = {r["id"]: r for r in (await conn.execute(select(memory_item))).mappings()}
        vectors = {r.memory_id: r for r in await conn.execute(select(memory_vector))}
    embedder = get_service().embedder
    for memory_id, row in items.items():
        if row["customer_ref"] != customer:
            continue
        context = items.get(row["context_id"]) if row["context_id"] else None
        assert row["context_id"] is None or (context is not None and context["customer_ref"] == customer), row
        assert memory_id in vectors, "every memory has its vectors once the worker is idle"
        want = passage_texts(row["text"], row["meta"], (context["text"], context["meta"]) if context else None)
        blob = _blob(vectors[memory_id])
        assert blob.shape[0] == len(want) and np.allclose(blob, embedder.embed_passages(want), atol=1e-4), want


@pytest.mark.vectors
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=3, max_size=10))
def test_any_sequence_of_writes_leaves_only_current_vectors(database_url, ops) -> None:
    from servers.memory_server.service import reset_services

    customer = f"P{uuid.uuid4().hex[:12]}"

    async def run() -> None:
        try:
            await _apply(ops, customer)
            await _check(customer)
        finally:
            await reset_services()

    asyncio.run(run())


# --- the migration ------------------------------------------------------------------------------


async def test_the_memory_migrations_match_the_tables_and_upgrade_a_store_in_place(call) -> None:
    """memory_0002 adds the link to a store made before it: old rows are kept and found, and new
    turns link to them."""
    import sqlalchemy as sa
    from alembic import command

    from core.db import get_engine
    from core.migrate import alembic_config
    from tests.dbcheck import migration_differences

    ours = {"memory_scope", "memory_item", "memory_vector", "memory_history", "memory_tombstone"}
    differences, heads = await migration_differences(ours)
    assert differences == [] and "memory_0003" in heads

    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "memory_0001"))
        columns = await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("memory_item")})
        assert "context_id" not in columns
        at = datetime(2024, 1, 1, tzinfo=UTC)
        await conn.execute(
            sa.text(
                "INSERT INTO memory_item (id, org_id, customer_ref, run_id, text, content_hash, tokens, kind,"
                " categories, meta, source, status, observed_at, created_at, updated_at, change_seq)"
                " VALUES ('old-1', 'acme', 'C1', 'call-1', :text, 'h-old', 'tell rhine bo', 'message', '[]',"
                " '{\"speaker\": \"Bo\", \"message_index\": 0}', 'message', 'active', :at, :at, :at, 1)"
            ),
            {"text": RHINE[1], "at": at},
        )
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "heads"))
    from servers.memory_server.service import reset_services

    await reset_services()  # indexes cached before the upgrade are gone
    rows = await _rows()
    assert rows[RHINE[1]]["id"] == "old-1" and rows[RHINE[1]]["context_id"] is None
    out = await call("add_memory", {"messages": _messages(LONG), "infer": False, "run_id": "call-1"})
    assert out["ok"], out
    assert (await _rows())[LONG[1]]["context_id"] == "old-1"
    found = await call("search_memories", {"query": "Rhine", "mode": "lexical"})
    assert "old-1" in [h["id"] for h in found["results"]]
