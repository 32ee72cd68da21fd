"""The write path and reads through the MCP tools: dedup, supersede, back-fill, search, pages, history."""

from __future__ import annotations

import asyncio

from fastmcp import Client

from tests.servers.memory.conftest import Caller, server_for


async def test_exact_and_near_duplicates_are_not_stored_twice(call) -> None:
    first = await call("add_memory", {"text": "배송 전에 미리 전화를 받고 싶어함"})
    assert first["results"][0]["event"] == "ADD"
    memory_id = first["results"][0]["id"]
    for variant in ("배송 전에 미리 전화를 받고 싶어함.", "배송 전에  미리 전화를 받고 싶어 함"):
        again = await call("add_memory", {"text": variant})
        assert again["results"][0]["event"] == "NONE"
        assert again["results"][0]["duplicate_of"] == memory_id
    different = await call("add_memory", {"text": "배송 후에 문자로 알려 주면 좋겠어요"})
    assert different["results"][0]["event"] == "ADD"
    page = await call("list_memories", {})
    assert len(page["items"]) == 2


async def test_a_changed_fact_supersedes_and_drops_out_of_default_search(call) -> None:
    old = (await call("add_memory", {"text": "제 주소는 서울시 마포구 월드컵로 12입니다"}))["results"][0]
    new = (await call("add_memory", {"text": "이사해서 주소가 부산시 해운대구 센텀로 45로 바뀌었어요"}))["results"][0]
    assert new["event"] == "SUPERSEDE" and new["superseded"] == [old["id"]]
    hits = (await call("search_memories", {"query": "고객 주소 서울시 마포구"}))["results"]
    assert [h["id"] for h in hits] == [new["id"]]
    everything = (await call("search_memories", {"query": "주소", "include_superseded": True}))["results"]
    by_id = {h["id"]: h for h in everything}
    assert by_id[old["id"]]["status"] == "superseded"
    assert by_id[old["id"]]["superseded_by"] == new["id"]
    assert by_id[old["id"]]["valid_to"] == by_id[new["id"]]["observed_at"]
    history = await call("memory_history", {"id": old["id"]})
    assert [e["event"] for e in history["events"]] == ["ADD", "SUPERSEDED"]
    assert history["events"][1]["details"]["by"] == new["id"]


async def test_same_subject_same_value_is_a_duplicate(call) -> None:
    await call("add_memory", {"text": "다음부터 오후 3시 이후에 연락 주세요"})
    again = await call("add_memory", {"text": "오후 3시 이후에 연락 주세요"})
    assert again["results"][0]["event"] == "NONE"
    changed = await call("add_memory", {"text": "이제는 오전 10시 전에 연락 주세요"})
    assert changed["results"][0]["event"] == "SUPERSEDE"
    active = (await call("list_memories", {}))["items"]
    assert [m["text"] for m in active] == ["이제는 오전 10시 전에 연락 주세요"]


async def test_back_filled_history_lands_in_its_place_on_the_timeline(call) -> None:
    current = await call(
        "add_memory", {"text": "5G 프리미엄 요금제로 변경했어요", "observed_at": "2025-06-01T00:00:00Z"}
    )
    current_id = current["results"][0]["id"]
    older = await call("add_memory", {"text": "LTE 베이직 요금제 쓰고 있어요", "observed_at": "2024-01-10T09:00:00Z"})
    result = older["results"][0]
    assert result["event"] == "ADD" and result["status"] == "superseded"
    memory = await call("get_memory", {"id": result["id"]})
    assert memory["superseded_by"] == current_id
    assert memory["valid_to"].startswith("2025-06-01")
    middle = await call("add_memory", {"text": "5G 스탠다드 요금제로 바꿨어요", "observed_at": "2025-01-01T00:00:00Z"})
    middle_id = middle["results"][0]["id"]
    assert (await call("get_memory", {"id": result["id"]}))["superseded_by"] == middle_id
    assert (await call("get_memory", {"id": middle_id}))["superseded_by"] == current_id
    assert (await call("get_memory", {"id": current_id}))["status"] == "active"
    then = await call("search_memories", {"query": "요금제", "as_of": "2024-06-01T00:00:00Z"})
    assert [h["id"] for h in then["results"]] == [result["id"]]


async def test_messages_are_extracted_and_back_dated(call) -> None:
    out = await call(
        "add_memory",
        {
            "messages": [
                {"role": "assistant", "content": "무엇을 도와드릴까요?"},
                {
                    "role": "user",
                    "content": "택배는 경비실에 맡겨 주세요. 감사합니다!",
                    "timestamp": "2024-03-02T10:00:00+09:00",
                },
            ],
            "metadata": {"channel": "phone"},
            "run_id": "call-77",
        },
    )
    assert out["extracted"] == 1
    memory = await call("get_memory", {"id": out["results"][0]["id"]})
    assert memory["text"] == "택배는 경비실에 맡겨 주세요."
    assert memory["observed_at"].startswith("2024-03-02T01:00:00")
    assert memory["metadata"]["channel"] == "phone" and memory["run_id"] == "call-77"
    assert memory["subject"] == "delivery_instruction"
    raw = await call("add_memory", {"messages": [{"role": "user", "content": "그냥 남기는 메모"}], "infer": False})
    assert raw["results"][0]["event"] == "ADD"
    assert (await call("get_memory", {"id": raw["results"][0]["id"]}))["kind"] == "message"


async def test_filters_narrow_and_empty_or_widening_filters_are_refused(call) -> None:
    await call("add_memory", {"text": "VIP 골드 등급 회원임", "metadata": {"source": "crm", "tier": 3}})
    await call(
        "add_memory",
        {"text": "반려견을 키우고 있어 소음에 민감함", "metadata": {"source": "call"}, "agent_id": "bot-a"},
    )
    crm = await call("search_memories", {"query": "회원 반려견", "filters": {"metadata": {"source": "crm"}}})
    assert [h["text"] for h in crm["results"]] == ["VIP 골드 등급 회원임"]
    members = await call("list_memories", {"filters": {"metadata": {"source": {"in": ["call", "web"]}}}})
    assert [m["text"] for m in members["items"]] == ["반려견을 키우고 있어 소음에 민감함"]
    agent = await call("list_memories", {"filters": {"agent_id": "bot-a"}})
    assert len(agent["items"]) == 1
    typed = await call("list_memories", {"filters": {"metadata": {"tier": True}}})
    assert typed["items"] == []  # True is not 3, and not 1 either
    for bad in (
        {},
        {"metadata": {}},
        {"user_id": "C2"},
        {"customer_ref": "C2"},
        {"org_id": "other"},
        {"metadata": {"source": {"in": []}}},
        {"categories": []},
        {"created_after": "2025-02-01T00:00:00Z", "created_before": "2025-01-01T00:00:00Z"},
    ):
        body = await call("search_memories", {"query": "회원", "filters": bad})
        assert not body["ok"] and body["code"] == "INVALID_ARGUMENT", bad


async def test_dates_and_categories_filter(call) -> None:
    await call("add_memory", {"text": "전화 말고 문자로 연락 주세요", "observed_at": "2024-01-01T00:00:00Z"})
    await call("add_memory", {"text": "환불 절차를 문의했음", "observed_at": "2025-01-01T00:00:00Z"})
    recent = await call("list_memories", {"filters": {"observed_after": "2024-06-01T00:00:00Z"}})
    assert [m["text"] for m in recent["items"]] == ["환불 절차를 문의했음"]
    contact = await call("list_memories", {"filters": {"categories": ["contact"]}})
    assert [m["text"] for m in contact["items"]] == ["전화 말고 문자로 연락 주세요"]
    created = await call("list_memories", {"filters": {"created_before": "2000-01-01T00:00:00Z"}})
    assert created["items"] == []


async def test_pagination_walks_every_memory_once(call) -> None:
    texts = [f"메모 번호 {i}번: 상담 기록" for i in range(23)]
    await call("add_memory", {"messages": [{"role": "user", "content": t} for t in texts], "infer": False})
    seen, cursor = [], None
    while True:
        args = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = await call("list_memories", args)
        seen.extend(m["id"] for m in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 23 == len(set(seen))
    bad = await call("list_memories", {"cursor": "not-a-cursor"})
    assert bad["code"] == "INVALID_ARGUMENT"
    wrong_order = await call(
        "list_memories", {"limit": 5, "order": "oldest", "cursor": page["next_cursor"] or _first_cursor(seen)}
    )
    assert wrong_order["code"] == "INVALID_ARGUMENT"


def _first_cursor(ids: list[str]) -> str:
    import base64
    import json

    raw = json.dumps({"t": 0.0, "id": ids[0], "o": "newest"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_update_keeps_old_and_new_text_in_history(call) -> None:
    memory_id = (await call("add_memory", {"text": "주말에는 연락을 원하지 않음"}))["results"][0]["id"]
    updated = await call("update_memory", {"id": memory_id, "text": "주말과 공휴일에는 연락을 원하지 않음"})
    assert updated["text"] == "주말과 공휴일에는 연락을 원하지 않음"
    events = (await call("memory_history", {"id": memory_id}))["events"]
    assert events[-1]["event"] == "UPDATE"
    assert events[-1]["old_text"] == "주말에는 연락을 원하지 않음"
    hits = await call("search_memories", {"query": "공휴일 연락"})
    assert hits["results"][0]["id"] == memory_id


async def test_concurrent_adds_for_one_customer_lose_nothing(call, database_url: str) -> None:
    texts = [f"동시에 저장하는 메모 {i}번 - 고유 내용 {i * 7919}" for i in range(40)]
    results = await asyncio.gather(*(call("add_memory", {"text": t}) for t in texts))
    assert all(r["ok"] for r in results)
    # a second process (its own service, cache and locks) writing at the same time
    from servers.memory_server.extract import from_text
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import MemoryService

    other = MemoryService(database_url)
    scope = Scope("acme", "C1", actor="test")
    more = [f"다른 프로세스의 메모 {i}번 - 고유 {i * 104729}" for i in range(20)]
    await asyncio.gather(
        *(other.add(scope, [from_text(t)]) for t in more),
        *(call("add_memory", {"text": f"세 번째 묶음 {i}번 - 값 {i * 31}"}) for i in range(20)),
    )
    listed, cursor = [], None
    while True:
        page = await call("list_memories", {"limit": 100} | ({"cursor": cursor} if cursor else {}))
        listed.extend(m["text"] for m in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(listed) == 80 == len(set(listed))
    other_index = await other.index(scope.key)
    assert len(other_index) == 80  # the other process's cache caught up through the generation counter


async def test_no_customer_means_forbidden_unless_agent_scoped(database_url: str) -> None:
    async with Client(server_for(customer=None)) as client:
        call = Caller(client)
        refused = await call("search_memories", {"query": "anything"})
        assert refused["code"] == "FORBIDDEN"
        assert (await call("add_memory", {"text": "x"}))["code"] == "FORBIDDEN"
        mine = await call("add_memory", {"text": "고객들이 주말 배송을 자주 문의함", "agent_id": "bot-a"})
        assert mine["ok"]
        listed = await call("list_memories", {"filters": {"agent_id": "bot-a"}})
        assert [m["text"] for m in listed["items"]] == ["고객들이 주말 배송을 자주 문의함"]
        assert (await call("list_memories", {"filters": {"agent_id": "bot-b"}}))["items"] == []
    async with Client(server_for(customer="C1")) as client:
        call = Caller(client)
        assert (await call("list_memories", {}))["items"] == []  # agent memories are not the customer's
        assert (await call("get_memory", {"id": mine["results"][0]["id"]}))["code"] == "NOT_FOUND"


async def test_delete_all_needs_confirmation(call) -> None:
    await call("add_memory", {"text": "환불 절차를 문의했음"})
    assert (await call("delete_all_memories", {"confirm": False}))["code"] == "INVALID_ARGUMENT"
    done = await call("delete_all_memories", {"confirm": True})
    assert done["deleted"] == 1
    assert (await call("list_memories", {}))["items"] == []


async def test_a_memory_that_says_more_than_its_subject_is_never_hidden(call) -> None:
    mixed = (
        await call(
            "add_memory",
            {
                "text": "제가 간호사라서 교대 근무에는 전화를 못 받아요. 연락은 오전 10시에 주세요.",
                "observed_at": "2024-01-01T00:00:00Z",
            },
        )
    )["results"][0]
    pure = (await call("add_memory", {"text": "오후 2시 이후에 연락 주세요", "observed_at": "2024-02-01T00:00:00Z"}))[
        "results"
    ][0]
    assert pure["superseded"] == [] and pure["status"] == "active"  # the nurse fact is still true
    newest = (await call("add_memory", {"text": "요즘은 저녁 7시 이후에 연락 주세요"}))["results"][0]
    assert newest["superseded"] == [pure["id"]]
    memory = await call("get_memory", {"id": mixed["id"]})
    assert memory["status"] == "active" and memory["subject"] == "contact_time"
    hits = await call("search_memories", {"query": "고객 직업 간호사"})
    assert hits["results"][0]["id"] == mixed["id"]


async def test_a_near_duplicate_with_another_name_or_word_is_its_own_memory(call) -> None:
    """Letters alike, words not: another person's name is another fact, and a turn stored verbatim
    is never folded into a different one."""
    pairs = [
        ("I went to a concert with friend Ana tonight", "I went to a concert with friend Dana tonight"),
        ("담당자는 김민수 대리입니다", "담당자는 김민지 대리입니다"),
        ("배송은 경비실에 맡겨 주세요", "배송은 관리실에 맡겨 주세요"),
    ]
    for first, second in pairs:
        a = (await call("add_memory", {"text": first, "infer": False}))["results"][0]
        b = await call("add_memory", {"messages": [{"role": "user", "content": second}], "infer": False})
        # its own memory (a newer delivery instruction also supersedes the older one)
        assert b["results"][0]["event"] in ("ADD", "SUPERSEDE") and b["results"][0]["id"] != a["id"], (first, second)
    everything = await call("list_memories", {"limit": 20, "include_superseded": True})
    texts = {m["text"] for m in everything["items"]}
    assert all(t in texts for pair in pairs for t in pair)
