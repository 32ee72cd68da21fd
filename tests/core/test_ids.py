"""Ids as printed: any unique prefix of 8+ characters works, an ambiguous one lists the matches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select
from typer.testing import CliRunner

from core.errors import ErrorCode, SwitchboardError
from core.ids import pick, resolve_id, short_id

runner = CliRunner()
IDS = ["3f2a9c1e-aaaa-4000-8000-000000000001", "3f2a9c1e-bbbb-4000-8000-000000000002", "9d0e7b44-cccc-4000-8000-3"]


def _error(fn, *args, **kwargs) -> SwitchboardError:
    with pytest.raises(SwitchboardError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_pick_accepts_the_full_id_and_a_unique_prefix():
    assert pick(IDS[2], IDS) == IDS[2]
    assert pick("9d0e7b44", IDS) == IDS[2]
    assert pick("  9d0e7b44-cc ", IDS) == IDS[2]  # pasted with spaces
    assert short_id(IDS[0]) == "3f2a9c1e" and short_id(None) == ""


def test_pick_refuses_short_ambiguous_unknown_and_empty_prefixes():
    short = _error(pick, "3f2a", IDS, what="review item", hint="see `switchboard review list`")
    assert short.code is ErrorCode.INVALID_ARGUMENT and "at least 8" in short.message
    ambiguous = _error(pick, "3f2a9c1e", IDS, what="memory")
    assert ambiguous.code is ErrorCode.INVALID_ARGUMENT and "ambiguous" in ambiguous.message
    assert ambiguous.details["matches"] == IDS[:2] and IDS[0] in ambiguous.message and IDS[1] in ambiguous.message
    unknown = _error(pick, "ffffffff", IDS, what="token", hint="see `switchboard tokens list`")
    assert unknown.code is ErrorCode.NOT_FOUND and "tokens list" in unknown.message
    assert _error(pick, "   ", IDS).code is ErrorCode.INVALID_ARGUMENT
    # LIKE wildcards in the input are literal, never patterns
    assert _error(pick, "3f2a9c1%", IDS).code is ErrorCode.NOT_FOUND


async def test_resolve_id_filters_by_tenant_and_escapes_wildcards(database_url):
    from core.db import get_engine

    meta = MetaData()
    things = Table("ids_probe", meta, Column("id", String(64), primary_key=True), Column("org_id", String(32)))
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
        rows = [{"id": IDS[0], "org_id": "a"}, {"id": IDS[1], "org_id": "b"}, {"id": "abc_defgh_1", "org_id": "a"}]
        await conn.execute(insert(things), rows)
    async with engine.connect() as conn:
        org_a = select(things.c.id).where(things.c.org_id == "a")
        assert await resolve_id(conn, "3f2a9c1e", org_a) == IDS[0]  # org b's row is not a match
        with pytest.raises(SwitchboardError) as caught:
            await resolve_id(conn, "3f2a9c1e", select(things.c.id))
        assert caught.value.details["matches"] == IDS[:2]
        assert await resolve_id(conn, "abc_defg", org_a) == "abc_defgh_1"
        with pytest.raises(SwitchboardError) as caught:
            await resolve_id(conn, "abc%defg", org_a)  # % is not a wildcard
        assert caught.value.code is ErrorCode.NOT_FOUND
        with pytest.raises(SwitchboardError) as caught:
            await resolve_id(conn, "3f2a9c1e", select(things.c.id).where(things.c.org_id == "c"))
        assert caught.value.code is ErrorCode.NOT_FOUND


async def test_an_id_prefix_typed_in_upper_case_finds_the_printed_id(database_url):
    """A walk: `review show E6D3F297` (read off a screenshot) was NOT_FOUND; ids print in lower
    case. An id stored in upper case (a legacy one) is still found as typed, and only as typed."""
    from core.db import get_engine

    meta = MetaData()
    things = Table("ids_case_probe", meta, Column("id", String(64), primary_key=True))
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
        await conn.execute(insert(things), [{"id": IDS[0]}, {"id": "ABCDEF12-LEGACY"}])
    async with engine.connect() as conn:
        assert await resolve_id(conn, IDS[0][:8].upper(), select(things.c.id)) == IDS[0]
        assert await resolve_id(conn, "ABCDEF12", select(things.c.id)) == "ABCDEF12-LEGACY"
        with pytest.raises(SwitchboardError) as caught:
            await resolve_id(conn, "abcdef12", select(things.c.id))  # not lowered the other way
        assert caught.value.code is ErrorCode.NOT_FOUND


def test_review_show_and_resolve_take_the_printed_prefix(sb_env):
    from host import cli
    from host.review_cli import app as review_app
    from tests.host.test_cli import _app
    from tests.host.test_legacy import LEGACY

    assert runner.invoke(_app(cli.import_legacy), ["import-legacy", str(LEGACY), "--json"]).exit_code == 0
    listed = runner.invoke(review_app, ["list"], terminal_width=200)
    items = json.loads(runner.invoke(review_app, ["list", "--json"]).stdout)
    full = items[0]["id"]
    assert short_id(full) in listed.stdout
    shown = runner.invoke(review_app, ["show", short_id(full), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["item"]["id"] == full
    too_short = runner.invoke(review_app, ["show", full[:5]])
    assert too_short.exit_code == 2 and "at least 8" in too_short.output
    unknown = runner.invoke(review_app, ["resolve", "zzzzzzzz"])
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.output and "review list" in unknown.output
    done = runner.invoke(review_app, ["resolve", short_id(full), "--note", "called back", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["id"] == full


def test_memory_show_takes_the_printed_prefix_of_an_erased_memory(sb_env):
    import asyncio

    from core.db import dispose_engines, get_engine
    from servers.memory_server.cli import app as memory_app
    from servers.memory_server.tables import memory_tombstone

    memory_id = "7c1d2e3f-0000-4000-8000-00000000000a"

    async def seed() -> None:
        engine = await get_engine()
        async with engine.begin() as conn:
            for org, customer, mid in (("demo", "C-1", memory_id), ("other", "C-1", "7c1d2e3f-9999")):
                await conn.execute(
                    insert(memory_tombstone).values(
                        memory_id=mid,
                        org_id=org,
                        customer_ref=customer,
                        content_hash="0" * 64,
                        deleted_at=datetime.now(UTC),
                        deleted_by="cli:test",
                        reason="erase",
                        change_seq=1,
                    )
                )
        await dispose_engines()

    asyncio.run(seed())
    shown = runner.invoke(memory_app, ["show", "7c1d2e3f", "--org", "demo", "--customer", "C-1"])
    assert shown.exit_code == 0, shown.output
    assert f"erased {memory_id}" in shown.stdout  # the other org's tombstone does not make it ambiguous
    other = runner.invoke(memory_app, ["show", "7c1d2e3f", "--org", "demo", "--customer", "C-2"])
    assert other.exit_code == 2 and "NOT_FOUND" in other.output


async def test_a_knowledge_base_is_found_by_its_printed_id_prefix_within_its_org(database_url):
    from servers.kb_server.lookups import resolve_targets
    from servers.kb_server.store import create_kb, get_kb

    kb = await create_kb("acme", "faq")
    await create_kb("beta", "faq")
    prefix = kb["id"][:10]
    assert (await get_kb("acme", prefix))["id"] == kb["id"]
    assert await resolve_targets("acme", [prefix]) == []  # found; version 0 has nothing to search
    with pytest.raises(SwitchboardError) as caught:
        await get_kb("beta", prefix)  # another org's KB is never matched
    assert caught.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(SwitchboardError) as caught:
        await resolve_targets("acme", ["kb_1"])
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT and "at least 8" in caught.value.message


async def test_audit_find_takes_a_printed_session_prefix(database_url):
    from audit import append, close, find
    from tests.audit.helpers import event

    try:
        for i, session in enumerate(["5e55a0b1-aaaa-0001", "5e55a0b1-bbbb-0002", "77c0ffee-cccc-0003"]):
            await append(event(i, session_id=session))
        [record] = await find(session_id="77c0ffee", org_id="acme")
        assert record.session_id == "77c0ffee-cccc-0003"
        with pytest.raises(SwitchboardError) as caught:
            await find(session_id="5e55a0b1", org_id="acme")  # two sessions start so: both listed
        assert caught.value.details["matches"] == ["5e55a0b1-aaaa-0001", "5e55a0b1-bbbb-0002"]
        assert await find(session_id="deadbeef-not-there") == []  # an id nothing carries finds nothing
        assert len(await find(trace_id="trace-2")) == 1  # full ids work as before
    finally:
        await close()


@pytest.mark.parametrize("copied", ["c184ee84,", "(c184ee84)", " `c184ee84` ", "c184ee84.", "'c184ee84'"])
def test_an_id_copied_with_the_punctuation_around_it_is_found(copied):
    """A newcomer walk: ids copied from a sentence or a table with a comma were refused."""
    assert pick(copied, ["c184ee84-aaaa", "d0000000-bbbb"]) == "c184ee84-aaaa"
