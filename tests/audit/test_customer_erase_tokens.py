"""`switchboard customer erase` and the bearer tokens bound to the customer (`tokens create
--customer`): they are revoked and their label (an operator's note, often naming the person) is
cleared. Before, a token bound to an erased customer kept working (a client could go on writing
under their reference) and `tokens list` still showed '한지영 앱 토큰 010-****-7730'."""

from __future__ import annotations

from typing import Any

from tests.audit.test_customer_erase_orders import ORG, _sync, shop  # noqa: F401 (fixture)

LABEL = "한지영 앱 토큰 010-4821-7730"


def test_erase_revokes_the_customers_tokens_and_clears_their_labels(shop: str) -> None:  # noqa: F811
    from servers.kit.tokens import create_token, list_tokens, verify_token
    from switchboard_erase import erase_customer

    async def _go() -> dict[str, Any]:
        mine, _ = await create_token(ORG, customer_ref="C-1001", label=LABEL)
        other, _ = await create_token(ORG, customer_ref="C-1002", label="다른 고객 토큰")
        org_wide, _ = await create_token(ORG, label="CRM")
        report = await erase_customer(ORG, "C-1001", actor="test")
        tokens = {t.customer_ref: t for t in await list_tokens(ORG)}
        return {
            "report": report,
            "mine": await verify_token(mine),
            "other": await verify_token(other),
            "org_wide": await verify_token(org_wide),
            "tokens": tokens,
            "again": await erase_customer(ORG, "C-1001", actor="test"),
        }

    out = _sync(_go)
    assert out["mine"] is None, "a token bound to the erased customer no longer opens anything"
    assert out["other"] is not None and out["org_wide"] is not None
    erased = out["tokens"]["C-1001"]
    assert erased.revoked_at is not None and "한지영" not in erased.label and "7730" not in erased.label
    assert out["tokens"]["C-1002"].label == "다른 고객 토큰"
    assert out["report"]["tokens"] == {"revoked": 1, "labels_cleared": 1}
    assert out["again"]["tokens"] == {"revoked": 0, "labels_cleared": 0}
