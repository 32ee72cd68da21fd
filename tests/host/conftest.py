"""Fixtures for host tests: a fake tool layer with order, KB and memory tools."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import not_found
from host.engine import AgentProfile, Conversation, EngineSettings
from host.providers.offline import OfflinePlanner
from host.store import RecordStore
from tests.host.fake_tools import ORDER_SCHEMA, QUERY_SCHEMA, REFUND_SCHEMA, FakeToolLayer, make_tool

PROFILE = AgentProfile(
    org_id="demo",
    agent_slug="cs-agent",
    agent_version=1,
    agent_version_id="av-test-1",
    manifest_sha256="m" * 64,
    provider="offline",
    system_prompt="You help customers of a small shop.",
)
REFUND_POLICY = (
    "환불은 승인 후 1~2영업일 내 완료됩니다. 카드 결제는 카드사 사정에 따라 최대 3영업일이 걸릴 수 있습니다."
)


def refund_status(args: dict[str, Any]) -> dict[str, Any]:
    if args["order_id"] != "8841" and args["order_id"] != "8842":
        raise not_found(f"no order {args['order_id']}")
    return {
        "order_id": args["order_id"],
        "state": "processing",
        "state_label": "환불 진행중",
        "amount_krw": 39000,
        "expected_completion_date": "2026-11-24",
        "summary_ko": f"주문 {args['order_id']}의 환불이 진행 중이며 2026-11-24까지 완료될 예정입니다.",
    }


def kb_search(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "query": args["query"],
        "results": [
            {
                "kb_id": "kb-cs",
                "title": "환불 정책",
                "version": 3,
                "chunk_id": "refund-1",
                "doc_id": "refund-policy",
                "score": 0.91,
                "text": REFUND_POLICY,
            }
        ],
    }


MEMORY_LIST_SCHEMA = {
    "type": "object",
    "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}},
    "additionalProperties": False,
}
MEMORY_ADD_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


def with_memory(layer: FakeToolLayer, memories: list[str]) -> list[str]:
    """Add a memory server's list/add tools to ``layer``; returns the list that add_memory appends to."""
    stored = list(memories)
    layer.tools += [
        make_tool("memory_list_memories", "memory", "list_memories", MEMORY_LIST_SCHEMA),
        make_tool("memory_add_memory", "memory", "add_memory", MEMORY_ADD_SCHEMA, risk="write"),
    ]
    layer.handlers["memory_list_memories"] = lambda a: {"items": [{"text": t} for t in memories], "next_cursor": None}
    layer.handlers["memory_add_memory"] = lambda a: stored.append(a["text"]) or {"results": []}
    return stored


def make_layer(**policies: str) -> FakeToolLayer:
    tools = [
        make_tool("orders_get_order", "orders", "get_order", ORDER_SCHEMA, policy=policies.get("get_order", "confirm")),
        make_tool(
            "orders_get_refund_status",
            "orders",
            "get_refund_status",
            ORDER_SCHEMA,
            policy=policies.get("get_refund_status", "never"),
        ),
        make_tool(
            "orders_request_refund",
            "orders",
            "request_refund",
            REFUND_SCHEMA,
            policy=policies.get("request_refund", "never"),
            risk="write",
        ),
        make_tool("kb_search", "kb", "search", QUERY_SCHEMA),
        make_tool("orders_get_shipping_status", "orders", "get_shipping_status", ORDER_SCHEMA),
    ]
    handlers = {
        "orders_get_order": lambda a: {
            "order_id": a["order_id"],
            "status": "delivered",
            "status_label": "배송 완료",
            "items": [{"name": "무선 블루투스 이어폰"}, {"name": "65W 고속 충전기"}],
        },
        "orders_get_refund_status": refund_status,
        "orders_request_refund": lambda a: {"refund_id": "r1", "state": "requested", "created": True},
        "kb_search": kb_search,
        "orders_get_shipping_status": lambda a: {
            "order_id": a["order_id"],
            "status": "in_transit",
            "status_label": "배송중",
            "carrier": "CJ대한통운",
            "tracking_number": "568231904417",
        },
    }
    return FakeToolLayer(tools, handlers)


class Recorder:
    """Collects what the engine emits."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, event_type: str, payload: dict[str, Any]) -> None:
        self.events.append((event_type, payload))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]


@pytest.fixture
def layer() -> FakeToolLayer:
    return make_layer()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def start(database_url: str, recorder: Recorder):
    """``await start(layer, provider=None, **kwargs)`` → a started Conversation."""

    providers: list[Any] = []

    async def _start(layer: FakeToolLayer, provider: Any = None, **kwargs: Any) -> Conversation:
        if provider is not None:
            providers.append(provider)
        return await Conversation.start(
            profile=kwargs.pop("profile", PROFILE),
            layer=layer,
            provider=provider or OfflinePlanner(),
            store=RecordStore(),
            customer_ref=kwargs.pop("customer_ref", "cust-1"),
            settings=kwargs.pop("settings", EngineSettings()),
            emit=recorder,
            **kwargs,
        )

    yield _start
    for provider in providers:
        await provider.aclose()
