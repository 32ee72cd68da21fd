"""A customer reference is an opaque id, never personal data itself.

Every store masks personal data, so a phone number used as a reference would be stored as
``010-****-6789``: one data subject for every customer sharing those digits, and an erase by the
real number would miss the audit records sealed under the masked one. Each way a reference
enters refuses such a value with INVALID_ARGUMENT and writes nothing.
"""

from __future__ import annotations

import pytest

from core.context import customer_ref_problem
from core.errors import SwitchboardError
from servers.kit.identity import ServerLaunch, resolve_context

PERSONAL = [
    "010-2345-6789",
    "01023456789",
    "82-10-2345-6789",
    "010.2345.6789",
    "minji.kim@example.co.kr",
    "900101-1234567",
    "9001011234567",
    "4111-1111-1111-1111",
    "C-01023456789",  # an id built around a phone number
]
OPAQUE = ["C-1001", "c1", "crm:48213", "CUST_2024_000017", "a", "u-7f3a9c", "2024-05-01", "order-8841"]
MALFORMED = ["", "C 1001", "고객1001", "a" * 129, "../../etc", "C-1001\n"]


@pytest.mark.parametrize("ref", PERSONAL)
def test_personal_data_is_not_a_customer_reference(ref):
    assert "personal data" in (customer_ref_problem(ref) or "")


@pytest.mark.parametrize("ref", OPAQUE)
def test_opaque_ids_are(ref):
    assert customer_ref_problem(ref) is None


@pytest.mark.parametrize("ref", [*MALFORMED, None, 1001])
def test_malformed_references_are_refused(ref):
    assert "1-128 letters" in (customer_ref_problem(ref) or "")


def test_a_server_refuses_such_a_reference_at_launch_and_in_a_trusted_meta():
    with pytest.raises(SwitchboardError) as err:
        ServerLaunch(org_id="demo", customer_ref="010-2345-6789").validate()
    assert err.value.code.value == "INVALID_ARGUMENT" and "--customer" in err.value.message
    trusted = ServerLaunch(org_id="demo", trust_meta=True)
    with pytest.raises(SwitchboardError) as err:
        resolve_context(trusted, None, {"switchboard/customer_ref": "minji.kim@example.co.kr"})
    assert err.value.code.value == "INVALID_ARGUMENT" and "minji" not in err.value.message
    assert resolve_context(trusted, None, {"switchboard/customer_ref": "C-1001"}).customer_ref == "C-1001"


async def test_the_host_refuses_a_session_for_such_a_reference(database_url):
    from host.runtime import HostRuntime

    def connector(pin, env):  # never reached: the reference is refused first
        raise AssertionError("connected for a refused customer reference")

    runtime = HostRuntime(connector=connector)
    try:
        with pytest.raises(SwitchboardError) as err:
            await runtime.start_session("demo", "cs-agent", customer_ref="900101-1234567")
        assert err.value.code.value == "INVALID_ARGUMENT"
    finally:
        await runtime.close()
