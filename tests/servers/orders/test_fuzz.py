"""Hypothesis-generated arguments for every tool, through a real MCP client (in memory).

1,000 examples per tool: wrong types, missing and extra fields, lengths, Unicode, huge numbers,
near-miss formats and valid values. Every call must come back as a result (no crash); every
error carries a stable code (never INTERNAL); a rejected call writes nothing; a successful one
matches the tool's output schema (the client validates it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ErrorCode
from tests.servers.orders.support import row_counts

EXAMPLES = 1000
STABLE = {c.value for c in ErrorCode} - {ErrorCode.INTERNAL.value}
DEMO_ORDERS = ["8841", "8801", "8807", "8822", "8823", "8824", "8825", "8819", "8805", "8839", "770001"]
VALID_PHONES = ["010-1234-5678", "01012345678", "+82 10 1234 5678", "011-234-5678", "010-2345-6789"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)
# Long strings are built from short ones: Hypothesis draws every character, so long random text is slow.
huge_text = st.one_of(
    st.sampled_from(["8" * 100_000, "가" * 20_000, "010" * 5_000, "a" * 501, "1" * 21, "x" * 129]),
    st.tuples(st.text(min_size=1, max_size=8), st.integers(min_value=3, max_value=90)).map(lambda p: p[0] * p[1]),
)
digit_runs = st.text(alphabet="0123456789", max_size=30)
unicode_digits = st.text(alphabet="٠١٢٣٤٥٦٧٨٩０１２３４５６７８９߀߁߂߃", min_size=1, max_size=12)

order_ids = st.one_of(
    st.sampled_from(DEMO_ORDERS),
    digit_runs,
    unicode_digits,
    st.sampled_from(["0884", "8841 ", " 8841", "88 41", "8841\n", "-8841", "8841.0", "1e4", "99999999999999999999"]),
    st.text(max_size=40),
    huge_text,
    json_values,
)
phones = st.one_of(
    st.sampled_from(VALID_PHONES),
    st.text(alphabet="0123456789 ()-.+", max_size=36),
    unicode_digits,
    st.text(max_size=40),
    huge_text,
    json_values,
)
reasons = st.one_of(
    st.sampled_from(["단순 변심", "불량", "사이즈 교환 원함 010-1234-5678"]),
    st.text(max_size=40),
    huge_text,
    json_values,
)
keys = st.one_of(
    st.uuids().map(str),
    st.text(alphabet="abcXYZ0189._:-", max_size=40),
    st.text(alphabet="abcXYZ0189._:-", min_size=1, max_size=8).map(lambda t: t * 20),
    st.text(max_size=40),
    json_values,
)
extras = st.dictionaries(
    st.sampled_from(["org_id", "customer_ref", "tenant", "extra", "_meta", ""]), json_values, max_size=2
)


def arguments(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the tool's fields (mostly all of them), sometimes with unknown extras."""
    complete = st.fixed_dictionaries(fields)
    partial = st.fixed_dictionaries({}, optional=fields)
    with_extras = st.tuples(complete, extras).map(lambda pair: {**pair[1], **pair[0]})
    return st.one_of(complete, complete, partial, with_extras)


# Tools that take the same arguments share each generated example (each still gets EXAMPLES calls).
GROUPS: dict[tuple[str, ...], st.SearchStrategy[dict[str, Any]]] = {
    ("get_order", "get_refund_status", "get_shipping_status"): arguments(order_id=order_ids),
    ("find_orders",): arguments(phone=phones),
    # a valid request is rare among random ones (a refundable order AND a reason AND a key): one
    # example in four is drawn whole from valid values, so successes are exercised on every run
    ("request_refund",): st.one_of(
        *[arguments(order_id=order_ids, reason=reasons, idempotency_key=keys)] * 3,
        st.fixed_dictionaries(
            {
                "order_id": st.sampled_from(DEMO_ORDERS),
                "reason": st.sampled_from(["단순 변심", "불량", "사이즈 교환 원함 010-1234-5678"]),
                "idempotency_key": st.uuids().map(str),
            }
        ),
    ),
}


def check_result(result: Any) -> str | None:
    """The error code of an error result (asserting its shape), None for a success."""
    if not result.is_error:
        assert isinstance(result.structured_content, dict)
        return None
    body = json.loads(result.content[0].text)
    assert body["code"] in STABLE, body
    assert isinstance(body["message"], str) and body["message"], body
    return body["code"]


def fuzz(loop: asyncio.AbstractEventLoop, client: Client, tools: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Run Hypothesis in this (worker) thread; the MCP calls run on the test's event loop."""
    seen: dict[str, dict[str, int]] = {tool: {} for tool in tools}

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    writes = tools == ("request_refund",)
    counts = [on_loop(row_counts())] if writes else []  # the counts after each call so far
    asked: set[str] = set()  # confirmation ids request_refund returned so far

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(args=GROUPS[tools])
    def run(args: dict[str, Any]) -> None:
        for tool in tools:
            result = on_loop(client.call_tool_mcp(tool, args))
            code = check_result(result)
            seen[tool][code or "ok"] = seen[tool].get(code or "ok", 0) + 1
            if writes:
                before = counts[-1]
                after = on_loop(row_counts())
                data = result.structured_content if code is None else {}
                expected = dict(before)
                if data.get("created"):
                    expected["ord_refund"] += 1
                pending = (data.get("confirmation") or {}).get("confirmation_id")
                if pending and pending not in asked:  # a direct client is asked first (a new pending row)
                    asked.add(pending)
                    expected["ord_refund_confirmation"] += 1
                assert after == expected, f"{code or 'ok'} changed the rows wrongly for {args!r}"
                counts.append(after)

    run()
    return seen


@pytest.mark.parametrize("tools", list(GROUPS), ids=["+".join(g) for g in GROUPS])
async def test_any_arguments_get_a_coded_result(shop, make_server, tools: tuple[str, ...]) -> None:
    before = await row_counts()
    async with Client(make_server()) as client:
        seen = await asyncio.to_thread(fuzz, asyncio.get_running_loop(), client, tools)
    for tool in tools:
        assert sum(seen[tool].values()) >= EXAMPLES, (tool, seen[tool])
        assert seen[tool].get("INVALID_ARGUMENT", 0) > EXAMPLES // 4, (tool, seen[tool])  # most input is bad
        assert seen[tool].get("ok", 0) > 0, (tool, seen[tool])  # and some is good
    if tools != ("request_refund",):
        assert await row_counts() == before
