"""`memory import` of the same file again — without its state file, or twice at the same time —
stores nothing twice, superseded memories included (a walk's conversation with an address change
came back with a second copy of the old address each rerun: dedup only looked at active memories)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner


def _cli(*args: str) -> tuple[int, str]:
    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), ["memory", *args])
    return result.exit_code, result.output


def _rows(database_url: str) -> list[tuple[str, str]]:
    with sqlite3.connect(database_url.split("///", 1)[1]) as conn:
        return sorted(conn.execute("SELECT text, status FROM memory_item WHERE org_id = 'acme'").fetchall())


def _moves(with_times: bool) -> dict[str, object]:
    texts = [
        "주소는 서울시 중구 세종대로 110이에요",
        "주소는 부산시 해운대구 우동 1번지예요",
        "연락은 오후 3시 이후에 주세요",
    ]
    messages = []
    for i, text in enumerate(texts):
        message = {"id": f"m{i}", "role": "user", "text": text}
        if with_times:
            message["timestamp"] = f"2024-0{i + 5}-01T10:00:00+09:00"
        messages.append(message)
    return {"id": "c1", "customer": "C-1", "messages": messages}


@pytest.mark.parametrize("with_times", [True, False])
def test_a_rerun_without_the_state_file_stores_no_superseded_memory_twice(
    database_url: str, tmp_path: Path, with_times: bool
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(_moves(with_times), ensure_ascii=False) + "\n", encoding="utf-8")
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert code == 0, out
    first = json.loads(out)["mapping"]
    rows = _rows(database_url)
    assert [status for _, status in rows].count("superseded") == 1
    for _ in range(2):
        (tmp_path / "in.jsonl.import-state.jsonl").unlink()
        code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
        assert code == 0, out
        again = json.loads(out)
        assert again["memories_added"] == 0 and again["duplicates"] == 3, again
        assert again["mapping"] == first
        assert _rows(database_url) == rows


async def test_two_imports_of_the_same_file_at_once_store_each_memory_once(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file")
    from servers.memory_server.importer import import_records, read_records
    from servers.memory_server.service import get_service

    records = [_moves(True), {**_moves(False), "id": "c2", "customer": "C-2"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    service = get_service()
    runs = await asyncio.gather(
        *(import_records(service, "acme", read_records(path, None), tmp_path / f"state-{n}.jsonl") for n in range(2))
    )
    assert runs[0].mapping == runs[1].mapping
    assert sum(r.memories_added for r in runs) == 6 and sum(r.duplicates for r in runs) == 6
    assert len(_rows(database_url)) == 6


async def test_a_value_said_again_later_still_replaces_the_one_between(database_url: str) -> None:
    """Not a rerun: the old address said again at a later time is the current one again."""
    from datetime import datetime

    from servers.memory_server.extract import Message, verbatim
    from servers.memory_server.filters import as_utc
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    service = get_service()
    scope = Scope("acme", "C-9", None, None, actor="test")
    texts = [
        "주소는 서울시 중구 세종대로 110이에요",
        "주소는 부산시 해운대구 우동 1번지예요",
        "주소는 서울시 중구 세종대로 110이에요",
    ]
    outcomes = []
    for i, text in enumerate(texts):
        at = as_utc(datetime.fromisoformat(f"2024-0{i + 5}-01T10:00:00+09:00"))
        outcomes += await service.add(scope, verbatim([Message("user", text, None, at, "m0")]))
    assert [o.event for o in outcomes] == ["ADD", "SUPERSEDE", "SUPERSEDE"]
    assert len({o.id for o in outcomes}) == 3


def test_a_rerun_maps_each_turn_to_the_memory_its_first_run_stored(database_url: str, tmp_path: Path) -> None:
    """Two conversations of one customer say the same things: a rerun without the state file maps
    each turn to the memory stored for it, not to the other conversation's copy of the text."""
    records = [{**_moves(True), "id": f"c{n}"} for n in range(2)]
    records[1]["messages"] = [
        {**m, "timestamp": m["timestamp"].replace("2024", "2025")} for m in records[1]["messages"]
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert code == 0, out
    first = json.loads(out)["mapping"]
    (tmp_path / "in.jsonl.import-state.jsonl").unlink()
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    again = json.loads(out)
    assert again["memories_added"] == 0 and again["mapping"] == first, (first, again["mapping"])
