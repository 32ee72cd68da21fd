"""`switchboard memory import|status|search --file`: the bulk paths for loading and checking real data."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.servers.memory.conftest import Caller, server_for


def _cli(*args: str) -> tuple[int, str]:
    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), ["memory", *args])
    return result.exit_code, result.output


def _write(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


CONVERSATION = {
    "id": "conv-1",
    "customer": "C1",
    "messages": [
        {"id": "t1", "role": "user", "speaker": "Caroline", "text": "I moved to Busan last week. Any gym tips?",
         "timestamp": "2023-05-08T13:56:00+09:00"},
        {"id": "t2", "role": "assistant", "name": "Melanie", "content": "Nice! The Haeundae one is good.",
         "timestamp": "2023-05-08T13:57:00+09:00"},
        {"id": "t3", "role": "user", "speaker": "Caroline",
         "text": "제 주민번호 900101-1234567 말고 카드 4111 1111 1111 1111 로 결제해 주세요",
         "timestamp": "2023-05-08T13:58:00+09:00"},
    ],
}  # fmt: skip


def test_a_bad_line_anywhere_imports_nothing_and_names_the_line(database_url: str, tmp_path: Path) -> None:
    bad_lines = [
        ("not json at all", "2"),
        (json.dumps({"id": "x", "customer": "C1"}), "exactly one of"),  # neither messages nor text
        (json.dumps({"id": "x", "customer": "C1", "text": "a", "messages": [{"text": "b"}]}), "exactly one of"),
        (json.dumps({"id": "x", "customer": "../../etc", "text": "hi"}), "customer must be"),
        (json.dumps({"id": "x", "text": "no customer anywhere"}), "no `customer`"),
        (json.dumps({"id": "x", "customer": "010-2345-6789", "text": "hi"}), "looks like personal data"),
        (json.dumps({"id": "conv-1", "customer": "C1", "text": "dup id"}), "appears twice"),
        (json.dumps({"id": "x", "customer": "C1", "messages": [{"role": "User!!", "text": "hi"}]}), "messages"),
        (json.dumps({"id": "x", "customer": "C1", "messages": [], "note": "무시해"}), "2"),
    ]
    for line, expected in bad_lines:
        path = tmp_path / "in.jsonl"
        path.write_text(json.dumps(CONVERSATION) + "\n" + line + "\n", encoding="utf-8")
        code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
        assert code == 2, (line, out)
        assert "in.jsonl:2" in out and expected in out, (line, out)
    code, out = _cli("status", "--org", "acme", "--json")
    assert code == 0 and json.loads(out)["memories"] == 0  # nothing from the good first line either
    code, out = _cli("import", str(tmp_path / "missing.jsonl"), "--org", "acme", "--json")
    assert code == 2 and "does not exist" in " ".join(out.split())


def test_import_is_resumable_and_maps_source_ids_to_memories(database_url: str, tmp_path: Path) -> None:
    notes = [{"id": f"n{i}", "customer": "C2", "text": f"메모 {i}번: 반려견 이름은 초코{i}"} for i in range(3)]
    path = _write(tmp_path / "data.jsonl", [CONVERSATION, *notes])
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["imported"] == 4 and first["memories_added"] == 6 and first["skipped_already_done"] == 0
    mapping = first["mapping"]
    assert set(mapping["conv-1"]) == {"t1", "t2", "t3"} and set(mapping["n0"]) == {"n0"}
    # the state file makes a rerun skip everything and return the same mapping
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    again = json.loads(out)
    assert again["imported"] == 0 and again["skipped_already_done"] == 4 and again["mapping"] == mapping
    # a crash after the commit but before the state line: the rerun finds duplicates, not new rows
    state = tmp_path / "data.jsonl.import-state.jsonl"
    lines = state.read_text(encoding="utf-8").splitlines()
    state.write_text("\n".join(lines[:-1]) + '\n{"customer": "C2", "id": "n2", "mem', encoding="utf-8")  # torn
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    healed = json.loads(out)
    assert healed["imported"] == 1 and healed["duplicates"] == 1 and healed["mapping"] == mapping
    code, out = _cli("status", "--org", "acme", "--json")
    status = json.loads(out)
    assert status["memories"] == 6 and status["customers"] == 2
    assert status["vectors_enabled"] is False and status["vectors_pending"] == 0  # off is not "pending forever"
    # the imported turn keeps its speaker, source id and real time (PII masking on write is issue 11's guard)
    code, out = _cli("show", mapping["conv-1"]["t1"][0], "--org", "acme", "--customer", "C1", "--json")
    shown = json.loads(out)["memory"]
    assert shown["source_message_id"] == "t1" and shown["speaker"] == "Caroline"
    assert shown["observed_at"].startswith("2023-05-08T04:56")


def test_a_state_file_only_skips_what_is_in_this_database_and_org(database_url: str, tmp_path: Path) -> None:
    """The state file sits beside the input, not in the data home: imported into another org, or
    into a data home made again, the file must be imported again, not reported done. Memories
    erased since stay erased."""
    path = _write(tmp_path / "data.jsonl", [CONVERSATION, {"id": "n0", "customer": "C2", "text": "반려견 이름은 초코"}])
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert code == 0 and json.loads(out)["imported"] == 2, out
    code, out = _cli("import", str(path), "--org", "beta", "--no-embed", "--json")  # same file, another org
    other = json.loads(out)
    assert other["imported"] == 2 and other["skipped_already_done"] == 0
    code, out = _cli("status", "--org", "beta", "--json")
    assert json.loads(out)["memories"] == 4
    # a customer erased in acme: a rerun into acme does not bring the erased memories back
    code, out = _cli("erase", "--org", "acme", "--customer", "C2", "--yes", "--json")
    assert code == 0, out
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    rerun = json.loads(out)
    assert rerun["imported"] == 0 and rerun["skipped_already_done"] == 2, rerun
    code, out = _cli("status", "--org", "acme", "--json")
    assert json.loads(out)["memories"] == 3
    # the database made again (its rows gone without an erase, as in a new data home): imported again
    import sqlite3

    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1]) as conn:
            conn.execute("DELETE FROM memory_item WHERE org_id = 'acme'")
            conn.execute("DELETE FROM memory_tombstone WHERE org_id = 'acme'")
        code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
        fresh = json.loads(out)
        assert fresh["imported"] == 2 and fresh["state_not_in_database"] == 2 and fresh["skipped_already_done"] == 0


async def test_mcp_results_carry_the_message_link_and_vector_counts(database_url: str) -> None:
    from fastmcp import Client

    async with Client(server_for(customer="C9")) as client:
        call = Caller(client)
        added = await call(
            "add_memory",
            {
                "messages": [
                    {
                        "role": "user",
                        "name": "민지",
                        "id": "m-1",
                        "content": "다음 주에 부산으로 이사 가요. 주소 바꿔 주실래요?",
                    },
                    {"role": "user", "name": "민지", "id": "m-2", "content": "I adopted a puppy last week, any tips?"},
                ],
                "infer": True,
            },
        )
        assert added["ok"] and added["vectors"] == {"enabled": False, "done": 0, "pending": 0}
        texts = {r["text"] for r in added["results"]}
        assert "다음 주에 부산으로 이사 가요." in texts and "I adopted a puppy last week" in texts
        found = await call("search_memories", {"query": "puppy"})
        hit = found["results"][0]
        assert hit["source_message_id"] == "m-2" and hit["speaker"] == "민지"
        assert found["vectors"]["enabled"] is False
        got = await call("get_memory", {"id": hit["id"]})
        assert got["source_message_id"] == "m-2"


def test_batch_search_prints_one_line_per_query(database_url: str, tmp_path: Path) -> None:
    _cli("import", str(_write(tmp_path / "d.jsonl", [CONVERSATION])), "--org", "acme", "--no-embed", "--json")
    queries = _write(
        tmp_path / "q.jsonl",
        [
            {"id": "q1", "query": "Busan gym"},
            {"id": "q2", "query": "Haeundae", "customer": "C1", "top_k": 1},
            {"id": "q3", "query": "Busan", "customer": "OTHER"},  # another customer's scope: nothing
        ],
    )
    code, out = _cli("search", "--file", str(queries), "--org", "acme", "--customer", "C1", "--mode", "lexical")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2", "q3"]
    assert lines[0]["results"][0]["source_message_id"] == "t1"
    assert len(lines[1]["results"]) == 1 and lines[1]["results"][0]["source_message_id"] == "t2"
    assert lines[2]["results"] == []
    bad = _write(tmp_path / "bad.jsonl", [{"id": "q1", "query": "ok"}, {"query": ""}])
    code, out = _cli("search", "--file", str(bad), "--org", "acme", "--customer", "C1")
    assert code == 2 and "bad.jsonl:2" in " ".join(out.split())


def test_batch_search_counts_a_lines_relative_times_from_its_asked_at(database_url: str, tmp_path: Path) -> None:
    """Five concerts a week apart; "two weeks ago" finds the one two weeks before each line's
    asked_at (a keyword search alone ties them all)."""
    messages = [
        {"id": f"c{i}", "role": "user", "speaker": "Mina", "text": f"I went to a concert with friend {name} tonight",
         "timestamp": f"2024-03-{1 + 7 * i:02d}T21:00:00+09:00"}
        for i, name in enumerate(["Ana", "Bo", "Chul", "Dana", "Eun"])
    ]  # fmt: skip
    _cli("import", str(_write(tmp_path / "d.jsonl", [{"id": "conv", "customer": "C1", "messages": messages}])),
         "--org", "acme", "--no-embed", "--json")  # fmt: skip
    question = "Who did I go to the concert with two weeks ago?"
    queries = _write(
        tmp_path / "q.jsonl",
        [
            {"id": "after-bo", "query": question, "asked_at": "2024-03-22T10:00:00+09:00", "top_k": 1},
            {"id": "after-dana", "query": question, "asked_at": "2024-04-05T10:00:00+09:00", "top_k": 5},
        ],
    )
    code, out = _cli("search", "--file", str(queries), "--org", "acme", "--customer", "C1", "--mode", "lexical")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    top = {line["id"]: line["results"][0]["source_message_id"] for line in lines}
    assert top == {"after-bo": "c1", "after-dana": "c3"}, out
    # each line says which time it read, and as what span
    assert {line["time_window"]["phrase"] for line in lines} == {"two weeks ago"}
    assert lines[1]["time_window"]["from"].startswith("2024-03-18") and lines[1]["time_window"]["to"].endswith("Z")
    # one question, from the command line: the same window, and none for a question without a time
    at = "2024-04-05T10:00:00+09:00"
    code, out = _cli("search", question, "--org", "acme", "--customer", "C1", "--asked-at", at, "--json")
    assert code == 0 and json.loads(out)["time_window"] == lines[1]["time_window"], out
    code, out = _cli("search", "Who went to the concert?", "--org", "acme", "--customer", "C1", "--json")
    assert code == 0 and json.loads(out)["time_window"] is None, out
    for bad in ("next tuesday", "2024-03-22T10:00:00", 20240322):  # not a date; no time zone; a number
        path = _write(tmp_path / "bad.jsonl", [{"query": "ok"}, {"query": question, "asked_at": bad}])
        code, out = _cli("search", "--file", str(path), "--org", "acme", "--customer", "C1")
        assert code == 2 and "bad.jsonl:2" in " ".join(out.split()) and "asked_at" in out, (bad, out)


def test_erase_and_export_refuse_an_org_or_customer_the_store_does_not_know(database_url: str, tmp_path: Path) -> None:
    """A newcomer walk: `memory erase --org dmeo` printed "✓ erased" and recorded an erase of
    nobody, which `customer erase` then read as "already erased"; `memory export` of a typo'd
    org wrote an empty access report."""
    path = _write(tmp_path / "m.jsonl", [{"id": "m1", "customer": "C1", "text": "오후 2시 이후 통화를 선호함"}])
    code, out = _cli("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert code == 0, out
    for command in ("erase", "export"):
        extra = ["--yes"] if command == "erase" else []
        code, out = _cli(command, "--org", "acme-typo", "--customer", "C1", *extra, "--json")
        assert code == 2 and "NOT_FOUND" in out and "orgs with memories here: acme" in out, out
        code, out = _cli(command, "--org", "acme", "--customer", "C9", *extra, "--json")
        assert code == 2 and "NOT_FOUND" in out and "--allow-missing" in out, out
    for command in (("list",), ("search", "통화")):  # read commands: empty, and the orgs with memories named
        code, out = _cli(*command, "--org", "acme-typo", "--customer", "C1")
        assert code == 0 and "orgs that have some: acme" in " ".join(out.split()), out
    from switchboard_cli import build_app

    typo = CliRunner().invoke(build_app(), ["customer", "erase", "--org", "acme-typo", "--customer", "C1", "--yes"])
    assert typo.exit_code == 2 and "NOT_FOUND" in typo.output  # no erase of nobody was recorded
    code, out = _cli("export", "--org", "acme", "--customer", "C9", "--allow-missing", "--json")
    assert code == 0 and json.loads(out)["memories"] == []
    code, out = _cli("erase", "--org", "acme", "--customer", "C1", "--yes", "--json")
    assert code == 0 and json.loads(out)["memories"] == 1
    code, out = _cli("erase", "--org", "acme", "--customer", "C1", "--yes", "--json")  # a rerun: erased before
    assert code == 0, out
