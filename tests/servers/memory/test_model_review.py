"""The optional model review: asynchronous, never blocking add_memory, applied through the write path,
and unable to touch memories outside the caller's scope. A local fake speaks the Anthropic wire format."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastmcp import Client

from tests.servers.memory.conftest import Caller, server_for


class FakeAnthropic(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.prompts: list[str] = []
        self.foreign_id = ""


class _Handler(BaseHTTPRequestHandler):
    server: FakeAnthropic

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        prompt = body["messages"][0]["content"]
        self.server.prompts.append(prompt)
        self.server.release.wait(30)  # add_memory must have answered before the model does
        target = re.search(r"id=([0-9a-f-]{36}): 고객은 LTE", prompt)
        facts = [
            {
                "text": "고객은 5G 프리미엄 요금제로 바꿨다",
                "action": "SUPERSEDE",
                "target_id": target.group(1) if target else None,
            },
            {"text": "고객은 강아지를 키운다", "action": "ADD", "target_id": None},
            {"text": "탈취된 메모", "action": "UPDATE", "target_id": self.server.foreign_id},
            {"text": "무시", "action": "NONE", "target_id": None},
        ]
        reply = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [
                {
                    "type": "text",
                    "text": "결과입니다:\n```json\n" + json.dumps({"facts": facts}, ensure_ascii=False) + "\n```",
                }
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch):
    server = FakeAnthropic()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SWITCHBOARD_MEMORY_MODEL", "anthropic:claude-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


async def test_model_review_runs_after_add_and_stays_in_scope(database_url: str, fake_model: FakeAnthropic) -> None:
    from servers.memory_server.llm import wait_for_reviews

    async with Client(server_for(customer="C1")) as c1, Client(server_for(customer="C2")) as c2:
        call, other = Caller(c1), Caller(c2)
        old = (await call("add_memory", {"text": "고객은 LTE 요금제를 쓴다"}))["results"][0]["id"]
        foreign = (await other("add_memory", {"text": "다른 고객의 메모"}))["results"][0]["id"]
        fake_model.foreign_id = foreign
        added = await call(
            "add_memory",
            {
                "messages": [
                    {"role": "user", "content": "요금제를 5G 프리미엄으로 바꾸고 싶어요. 집에 강아지도 있어요."}
                ]
            },
        )
        assert added["ok"] and added["model_review"]
        assert added["extracted"] >= 1  # the deterministic path answered on its own
        assert not any(m["text"] == "고객은 강아지를 키운다" for m in (await call("list_memories", {}))["items"])
        fake_model.release.set()
        await wait_for_reviews()
        assert fake_model.prompts and "고객은 LTE 요금제를 쓴다" in fake_model.prompts[0]
        assert "다른 고객의 메모" not in fake_model.prompts[0]
        current = {m["text"]: m for m in (await call("list_memories", {"limit": 100}))["items"]}
        assert "고객은 강아지를 키운다" in current
        replaced = await call("get_memory", {"id": old})
        assert replaced["status"] == "superseded"
        assert replaced["superseded_by"] == current["고객은 5G 프리미엄 요금제로 바꿨다"]["id"]
        history = await call("memory_history", {"id": replaced["superseded_by"]})
        assert history["events"][0]["actor"] == "model:anthropic:claude-test"
        assert (await other("get_memory", {"id": foreign}))["text"] == "다른 고객의 메모"


async def test_no_model_configured_means_no_review(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MEMORY_MODEL", "anthropic:claude-test")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with Client(server_for()) as client:
        out = await Caller(client)("add_memory", {"messages": [{"role": "user", "content": "문자로 연락 주세요"}]})
        assert out["ok"] and out["model_review"] is False


def test_decisions_parse_defensively() -> None:
    from servers.memory_server.llm import parse_decisions

    assert parse_decisions("no json here") == []
    assert parse_decisions('{"facts": "nope"}') == []
    got = parse_decisions('x {"facts": [{"text": "a", "action": "delete"}, {"text": " b ", "action": "add"}, 5]} y')
    assert got == [{"text": "b", "action": "ADD", "target_id": None}]
