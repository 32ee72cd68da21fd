"""Property: one customer never sees another's memories or statements, through any tool or filter."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OWNERS = [("acme", "C1"), ("acme", "C2"), ("beta", "C1")]  # same customer ref in another org is someone else
PHRASES = [
    "주소를 서울시 강남구 테헤란로 {n}으로 변경해 주세요",
    "오후 {n}시 이후에 연락 주세요",
    "{n}번 주문한 운동화 환불을 요청함",
    "I prefer email, ticket {n}",
    "매운 음식을 좋아해요 {n}",
]
MARK = re.compile(r"zq(\d)x")

write = st.tuples(
    st.integers(0, len(OWNERS) - 1),
    st.sampled_from(PHRASES),
    st.integers(1, 99),
    st.sampled_from([None, "bot-a"]),
    st.sampled_from([None, {"source": "crm"}, {"source": "call"}]),
)
probe_filters = st.sampled_from(
    [
        None,
        {"agent_id": "bot-a"},
        {"metadata": {"source": "crm"}},
        {"metadata": {"source": {"in": ["crm", "call"]}}},
        {"categories": ["contact", "address"]},
        {"observed_after": "2000-01-01T00:00:00Z"},
        {"run_id": "r1"},
    ]
)


def _marker(owner: int) -> str:
    return f"zq{owner}x"


def _leaks(body: Any, me: int) -> set[int]:
    """Owners whose marker appears anywhere in a tool result (the echoed query aside)."""
    shown = {k: v for k, v in body.items() if k != "query"}
    return {int(m) for m in MARK.findall(str(shown))} - {me}


async def _scenario(callers: list[Any], host: Any, writes: list[tuple], probes: list[tuple[str, Any]]) -> None:
    if True:
        ids: dict[int, list[str]] = {0: [], 1: [], 2: []}
        for owner, phrase, n, agent, meta in writes:
            args: dict[str, Any] = {"text": f"{phrase.format(n=n)} {_marker(owner)}", "run_id": "r1"}
            if agent:
                args["agent_id"] = agent
            if meta:
                args["metadata"] = meta
            out = await callers[owner]("add_memory", args)
            assert out["ok"], out
            ids[owner].extend(r["id"] for r in out["results"])
        for owner, caller in enumerate(callers):
            value = {"n": owner}
            assert (await caller("set_statement", {"key": "profile", "value": value}))["ok"]
        host_meta = {"switchboard/org_id": "acme", "switchboard/customer_ref": "C2"}
        views = [(i, callers[i], None) for i in range(3)] + [(1, host, host_meta)]
        for me, caller, meta in views:
            others = [i for j in ids if j != me for i in ids[j]]
            for query, filters in probes:
                for marker_query in (query, *(_marker(o) for o in range(3) if o != me)):
                    args = {"query": marker_query, "top_k": 50, "include_superseded": True}
                    if filters:
                        args["filters"] = filters
                    body = await caller("search_memories", args, meta)
                    assert not _leaks(body, me), body
                listing = await caller(
                    "list_memories",
                    {"limit": 100, "include_superseded": True} | ({"filters": filters} if filters else {}),
                    meta,
                )
                assert not _leaks(listing, me)
            for other_id in others[:6]:
                for tool, extra in (
                    ("get_memory", {}),
                    ("memory_history", {}),
                    ("update_memory", {"text": "탈취"}),
                    ("delete_memory", {}),
                ):
                    body = await caller(tool, {"id": other_id, **extra}, meta)
                    assert body.get("code") == "NOT_FOUND", (tool, body)
            statements = await caller("get_statements", {"keys": ["profile"], "include_history": True}, meta)
            assert statements["statements"][0]["value"] == {"n": me}
            assert all(h["value"] == {"n": me} for h in statements["statements"][0]["history"])
        # nothing of anyone was changed or erased by the others' attempts
        for owner, caller in enumerate(callers):
            for memory_id in set(ids[owner]):
                body = await caller("get_memory", {"id": memory_id})
                assert body["ok"] and "탈취" not in body["text"]


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    writes=st.lists(write, min_size=3, max_size=10),
    probes=st.lists(
        st.tuples(st.sampled_from(["주소", "연락", "환불 운동화", "email ticket", "음식"]), probe_filters),
        min_size=1,
        max_size=2,
    ),
)
def test_customers_never_see_each_other(loop_clients, writes: list[tuple], probes: list[tuple]) -> None:
    async def define(admins: list[Any]) -> None:
        for admin in admins:
            body = await admin(
                "define_statement",
                {
                    "key": "profile",
                    "description": "test",
                    "data_type": {"type": "object"},
                    "data_source": "test",
                    "update_frequency": "static",
                    "scope": "USER",
                },
            )
            assert body["ok"], body

    callers = [loop_clients.caller(org, customer) for org, customer in OWNERS]
    host = loop_clients.caller(None, None, True)  # the host path: identity in _meta
    admins = [loop_clients.caller("acme", None), loop_clients.caller("beta", None)]
    loop_clients.run(define(admins))
    loop_clients.run(_scenario(callers, host, writes, probes))
