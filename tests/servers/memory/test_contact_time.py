"""Issue 18 §9: a customer's new contact time supersedes the operator's note about the old one."""

from __future__ import annotations

from fastmcp import Client

from servers.memory_server.slots import detect_slots
from tests.servers.memory.conftest import Caller, server_for

DEMO_NOTE = "고객은 오후 2시 이후 통화를 선호함"  # host/demo.py seeds this one
ESCALATION_NOTE = "상담원 연결을 요청한 적 있음"
SAID = "연락 가능한 시간은 오후 5시 이후예요"


def test_an_operator_note_about_call_times_names_the_contact_time():
    assert [(m.slot, m.value) for m in detect_slots(DEMO_NOTE)] == [("contact_time", "오후 2시 이후")]
    assert [(m.slot, m.value) for m in detect_slots(SAID)] == [("contact_time", "오후 5시 이후")]
    assert all(m.slot != "contact_time" for m in detect_slots("오후 2시 이후 통화는 선호하지 않음"))
    assert detect_slots("연락 가능한 시간이 언제인가요?") == []  # a question states nothing


async def test_the_new_contact_time_supersedes_the_demo_note_and_ranks_first(database_url: str) -> None:
    async with Client(server_for(org="demo", customer="C-1001")) as client:
        call = Caller(client)
        old = (await call("add_memory", {"text": DEMO_NOTE, "observed_at": "2026-01-05T02:00:00Z"}))["results"][0]
        await call("add_memory", {"text": ESCALATION_NOTE, "observed_at": "2026-01-06T02:00:00Z"})
        # what the host sends at the end of a chat: the customer's own lines, to extract from
        said = ["안녕하세요. 상담 도움을 요청합니다.", "환불 진행 상황을 알고 싶습니다.", SAID, "상담원 연결해 주세요"]
        messages = [{"role": "user", "content": t} for t in said]
        added = (await call("add_memory", {"messages": messages, "infer": True}))["results"]
        [new] = [r for r in added if r["text"] == SAID]
        assert new["superseded"] == [old["id"]]
        assert (await call("get_memory", {"id": old["id"]}))["status"] == "superseded"
        hits = (await call("search_memories", {"query": "연락 가능한 시간"}))["results"]
        assert hits[0]["text"] == SAID
        assert DEMO_NOTE not in [h["text"] for h in hits]  # superseded: out of default search
