"""Caller verification at the gateway: an anonymous session reaches no customer data and no writes."""

from __future__ import annotations

import dataclasses

import pytest

from host import callercheck
from host.tooling import CallOutcome, ConfirmationGrant
from tests.host.fake_tools import make_tool
from tests.host.test_gateway import Setup, _audit, _close_audit  # noqa: F401  (an autouse fixture)


@pytest.fixture
async def gw(database_url):
    s = Setup()
    yield s
    await s.close()


def _anonymous(inv):
    return dataclasses.replace(inv, context=dataclasses.replace(inv.context, customer_ref=None))


async def test_an_unverified_caller_gets_no_order_and_no_write(gw):
    await gw.start()
    looked = await gw.gateway.call(_anonymous(gw.invocation("orders__get_order", {"order_id": "8841"})))
    assert not looked.ok and looked.error_code == "FORBIDDEN" and "not verified" in looked.error_message
    args = {"order_id": "8841", "reason": "변심"}
    grant = ConfirmationGrant.for_call("orders__request_refund", args)
    refund = _anonymous(gw.invocation("orders__request_refund", args, confirmation=grant))
    refused = await gw.gateway.call(refund)
    assert refused.error_code == "FORBIDDEN"
    assert gw.calls == []  # nothing reached the server
    denied = await _audit("tool_call_denied")
    assert len(denied) == 2
    # the same call from a verified (trusted-channel) session goes through
    assert (await gw.gateway.call(gw.invocation("orders__get_order", {"order_id": "8841"}))).ok


def test_find_orders_tells_an_unverified_caller_only_whether_a_match_exists():
    tool = make_tool("orders_find_orders", "orders", "find_orders", {"type": "object"})
    data = {
        "phone_masked": "+82-10-****-5678",
        "orders": [{"order_id": "77770001", "customer_name_masked": "김*수", "total_krw": 50000}],
        "truncated": False,
    }

    class Inv:  # only the context matters here
        def __init__(self, customer_ref):
            self.context = type("C", (), {"customer_ref": customer_ref})()

    out = CallOutcome("c1", "orders_find_orders", ok=True, content="{}", data=dict(data))
    callercheck.reduce_result(Inv(None), tool, out)
    assert out.data == {"match": True, "phone_masked": "+82-10-****-5678", "verified": False}
    assert "77770001" not in out.content and "김" not in out.content
    kept = CallOutcome("c2", "orders_find_orders", ok=True, content="{}", data=dict(data))
    callercheck.reduce_result(Inv("C-9001"), tool, kept)
    assert kept.data["orders"][0]["order_id"] == "77770001"
    assert callercheck.refusal(Inv(None), tool) is None
