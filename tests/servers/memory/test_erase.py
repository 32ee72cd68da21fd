"""Real erase: after delete_memory, delete_all_memories or `memory erase`, no trace of the text (or its
vector) remains in any row of the memory tables and — on SQLite — in the database file, its WAL, or
anything else under the data directory (on PostgreSQL dead tuples last until VACUUM: see docs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastmcp import Client
from sqlalchemy import select
from typer.testing import CliRunner

from tests.servers.memory.conftest import Caller, drain_vectors, server_for

KEEP = "보존표식KEEPMARK"


def _home(database_url: str) -> Path | None:
    """The SQLite data directory to scan byte by byte (None on PostgreSQL: rows are checked instead)."""
    return Path(database_url.split("///", 1)[1]).parent if database_url.startswith("sqlite") else None


def _scan(home: Path | None, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which needles occur where: every byte of every file under ``home`` (SQLite), and every value
    of every row of the memory tables (both backends)."""
    found: dict[str, list[str]] = {}
    for name, rows in _all_rows().items():
        for row in rows:
            for value in row:
                data = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                for needle_name, needle in needles.items():
                    if needle in data:
                        found.setdefault(needle_name, []).append(f"table:{name}")
    for path in home.rglob("*") if home is not None else ():
        if not path.is_file():
            continue
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle in data:
                found.setdefault(name, []).append(path.name)
    return found


def _all_rows() -> dict[str, list[tuple]]:
    import asyncio
    import threading

    from servers.memory_server import tables

    names = (
        "memory_item",
        "memory_history",
        "memory_vector",
        "memory_tombstone",
        "memory_erasure",
        "statement_value",
        "statement_definition",
        "memory_scope",
    )
    out: dict[str, list[tuple]] = {}

    async def read() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        from core.settings import get_settings

        engine = create_async_engine(get_settings().resolved_database_url)
        try:
            async with engine.connect() as conn:
                for name in names:
                    out[name] = [tuple(r) for r in (await conn.execute(select(getattr(tables, name)))).all()]
        finally:
            await engine.dispose()

    # a private loop in a thread: callable from sync tests and from inside a running loop alike
    thread = threading.Thread(target=lambda: asyncio.run(read()))
    thread.start()
    thread.join()
    return out


async def _vector_bytes(memory_ids: list[str]) -> dict[str, bytes]:
    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_vector

    engine = await memory_engine()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(memory_vector.c.memory_id, memory_vector.c.vector).where(
                    memory_vector.c.memory_id.in_(memory_ids)
                )
            )
        ).all()
    return {memory_id: bytes(vector[:48]) for memory_id, vector in rows}


async def _populate(call: Caller, marker: str) -> list[str]:
    ids = []
    first = await call("add_memory", {"text": f"제 주소는 서울시 마포구 월드컵로 12입니다 {marker}가"})
    ids.append(first["results"][0]["id"])
    moved = await call("add_memory", {"text": f"이사해서 주소가 부산시 해운대구 센텀로 45로 바뀌었어요 {marker}나"})
    ids.append(moved["results"][0]["id"])  # supersedes the first
    note = await call("add_memory", {"text": f"상담 메모 {marker}다 - 반려견이 있어 소음에 민감함"})
    ids.append(note["results"][0]["id"])
    await call("update_memory", {"id": note["results"][0]["id"], "text": f"상담 메모 {marker}라 - 소음 민감"})
    msgs = await call(
        "add_memory",
        {
            "messages": [
                {"role": "user", "content": f"전화 말고 문자로 연락 주세요 {marker}마"},
                {"role": "assistant", "content": "네 알겠습니다"},
            ]
        },
    )
    ids.extend(r["id"] for r in msgs["results"])
    return ids


async def _drain() -> None:
    await drain_vectors()


def _forms(text: str) -> list[bytes]:
    """The byte forms a text can take in the files: UTF-8, and JSON's \\u escapes (JSON columns)."""
    return [text.encode(), json.dumps(text)[1:-1].encode()]


def _needles(marker: str) -> dict[str, bytes]:
    out = {}
    for suffix in "가나다라마":
        utf8, escaped = _forms(f"{marker}{suffix}")
        out[f"{marker}{suffix}"], out[f"{marker}{suffix}~json"] = utf8, escaped
    return out


def _scan_forms(home: Path, texts: dict[str, str]) -> dict[str, list[str]]:
    needles = {f"{name}#{i}": form for name, text in texts.items() for i, form in enumerate(_forms(text))}
    return {k.split("#")[0]: v for k, v in _scan(home, needles).items()}


@pytest.mark.vectors
async def test_delete_memory_and_delete_all_leave_no_trace(database_url: str) -> None:
    home = _home(database_url)
    async with Client(server_for(customer="C1")) as c1, Client(server_for(customer="C2")) as c2:
        call, other = Caller(c1), Caller(c2)
        ids = await _populate(call, "지움표식ERASEME")
        kept = (await other("add_memory", {"text": f"다른 고객의 메모 {KEEP}"}))["results"][0]["id"]
        await _drain()
        vectors = await _vector_bytes([*ids, kept])
        assert set(vectors) >= {ids[1], kept}  # vectors were really stored
        needles = _needles("지움표식ERASEME") | {f"vector:{i}": v for i, v in vectors.items()} | {"keep": KEEP.encode()}
        before = _scan(home, needles)
        assert "keep" in before and "지움표식ERASEME가" in before  # the scan does find stored text

        single = await call("delete_memory", {"id": ids[2]})
        assert single["ok"] and single["wal_checkpointed"]
        after_single = _scan(home, needles)
        assert not {"지움표식ERASEME다", "지움표식ERASEME라", "지움표식ERASEME다~json"} & set(after_single)
        assert f"vector:{ids[2]}" not in after_single
        assert "지움표식ERASEME나" in after_single  # the others are still there

        everything = await call("delete_all_memories", {"confirm": True})
        assert everything["deleted"] == len(set(ids)) - 1 and everything["wal_checkpointed"]
        after = _scan(home, needles)
        leaked = {k: v for k, v in after.items() if k not in ("keep", f"vector:{kept}")}
        assert leaked == {}, leaked
        assert "keep" in after and f"vector:{kept}" in after
        for memory_id in ids:
            history = await call("memory_history", {"id": memory_id})
            assert history["events"] == [] and history["erased"]["content_hash"]
        assert (await call("search_memories", {"query": "지움표식ERASEME 주소 메모"}))["results"] == []


def test_cli_erase_serves_a_data_subject_request(database_url: str) -> None:
    import asyncio

    from switchboard_cli import build_app

    home = _home(database_url)

    async def setup() -> list[str]:
        from servers.memory_server.service import reset_services

        try:
            async with Client(server_for(customer=None)) as admin_client, Client(server_for(customer="C9")) as c9:
                admin, call = Caller(admin_client), Caller(c9)
                await admin(
                    "define_statement",
                    {
                        "key": "nickname",
                        "description": "n",
                        "data_type": {"type": "string"},
                        "data_source": "conversation",
                        "update_frequency": "static",
                        "scope": "USER",
                    },
                )
                await call("set_statement", {"key": "nickname", "value": "별명표식NICKMARK"})
                return await _populate(call, "고객표식DSRMARK")
        finally:
            await reset_services()

    ids = asyncio.run(setup())
    texts = {f"고객표식DSRMARK{s}": f"고객표식DSRMARK{s}" for s in "가나다라마"} | {"nick": "별명표식NICKMARK"}
    assert {"고객표식DSRMARK가", "nick"} <= set(_scan_forms(home, texts))  # stored before the erase
    result = CliRunner().invoke(
        build_app(), ["memory", "erase", "--org", "acme", "--customer", "C9", "--yes", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["memories"] == len(set(ids)) and report["statement_values"] == 1
    assert report["history_rows"] >= len(set(ids)) and report["wal_checkpointed"]
    leaked = _scan_forms(home, texts)
    assert leaked == {}, leaked
    listed = CliRunner().invoke(build_app(), ["memory", "list", "--org", "acme", "--customer", "C9", "--json"])
    assert json.loads(listed.output)["items"] == []
