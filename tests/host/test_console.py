"""The operator console over HTTP: sign-in and lockout, CSRF, tenant isolation, headers, the CLI.

A real host on loopback (uvicorn), real database; the browser scenarios are in test_console_browser.py.
"""

from __future__ import annotations

import re

import pytest

from tests.host.consolehost import ORG, PASSWORD, console_host
from tests.host.test_ws import connect


@pytest.fixture
async def console(database_url):
    async with console_host() as (address, people):
        yield address, people


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


async def _signed_in(http, username: str, password: str = PASSWORD):
    page = await http.get("/console/login")
    response = await http.post(
        "/console/login", data={"csrf": _csrf(page.text), "username": username, "password": password}
    )
    return response


async def _escalate(address: str, text: str) -> str:
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref="cust-7", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await client.send(type="user.message", text=text)
        await client.until("turn.completed")
        await client.send(type="user.message", text="상담원 연결해 주세요")
        done = await client.until("turn.completed")
        assert any(m["type"] == "escalated" for m in done)
        return session_id


async def test_sign_in_lockout_and_csrf(console):
    import httpx2

    address, _ = console
    async with httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
        first = await http.get("/console/queue")
        assert first.status_code == 303 and first.headers["location"] == "/console/login"
        cookie = first.headers["set-cookie"].lower()
        login = await http.get("/console/login")
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        csp = login.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        # a form without its CSRF token is refused and changes nothing (not even a failure count)
        refused = await http.post("/console/login", data={"username": "mina", "password": PASSWORD})
        assert refused.status_code == 403 and "CSRF" in refused.text
        for attempt in range(4):
            wrong = await _signed_in(http, "mina", f"wrong-password-{attempt}")
            assert wrong.status_code == 403 and "wrong username or password" in wrong.text
        locked = await _signed_in(http, "mina", "wrong-password-5")
        assert locked.status_code == 403 and "locked" in locked.text
        # the right password no longer helps while the lock lasts
        still = await _signed_in(http, "mina", PASSWORD)
        assert still.status_code == 403 and "locked" in still.text
        ok = await _signed_in(http, "joon")
        assert ok.status_code == 303 and ok.headers["location"] == "/console/queue"
        queue = await http.get("/console/queue")
        assert queue.status_code == 200 and "Joon" in queue.text
        # signed in, an action without the token is still 403
        no_token = await http.post("/console/logout")
        assert no_token.status_code == 403
        assert (await http.get("/console/queue")).status_code == 200

    from host.console.operators import list_operators

    states = {o["username"]: o for o in await list_operators(ORG)}
    assert states["mina"]["locked"] and not states["joon"]["locked"]


async def test_other_org_sees_404_and_customer_text_is_escaped(console):
    import httpx2

    address, _ = console
    payload = '<script>alert("x")</script><img src=x onerror="alert(1)"> 010-1234-5678'
    session_id = await _escalate(address, payload)
    async with (
        httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as mine,
        httpx2.AsyncClient(base_url=f"http://{address}") as rival,
    ):
        assert (await _signed_in(mine, "joon")).status_code == 303
        assert (await _signed_in(rival, "eve")).status_code == 303
        queue = await mine.get("/console/queue")
        review_id = re.search(r'data-review-id="([0-9a-f-]{36})"', queue.text).group(1)
        page = await mine.get(f"/console/sessions/{session_id}")
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
        assert "<img src=x" not in page.text and "&lt;img src=x onerror=" in page.text
        assert "010-1234-5678" not in page.text  # stored masked
        for path in (
            f"/console/reviews/{review_id}",
            f"/console/sessions/{session_id}",
            f"/console/sessions/{session_id}/transcript",
        ):
            assert (await rival.get(path)).status_code == 404, path
        token = _csrf((await rival.get("/console/queue")).text)
        taken = await rival.post(f"/console/reviews/{review_id}/claim", data={"csrf": token})
        assert taken.status_code == 404
        assert "data-review-id" not in (await rival.get("/console/queue")).text
        # the rightful operator can claim it; the audit log names them
        token = _csrf(queue.text)
        assert (await mine.post(f"/console/reviews/{review_id}/claim", data={"csrf": token})).status_code == 303
        assert (await mine.post(f"/console/reviews/{review_id}/claim", data={"csrf": token})).status_code == 303
        # CSV export: spreadsheet formulas in cells are neutralised
        csv_text = (await mine.get("/console/sessions.csv?customer=cust-7")).text
        assert session_id in csv_text and csv_text.startswith("\ufeffid,")
        static = await mine.get(re.search(r'src="(/console/static/console.js\?v=\w+)"', page.text).group(1))
        assert "immutable" in static.headers["cache-control"]
        english = await mine.get(f"/console/reviews/{review_id}?lang=en")
        assert "Claim" in english.text or "Resolve" in english.text

    from audit.store import tail

    records = await tail(ORG, limit=50)
    kinds = {(r.event_type, r.actor) for r in records}
    assert any(k == "operator_claim" and a and a.startswith("operator:") for k, a in kinds)
    assert not any(r.event_type.startswith("operator_") and r.org_id != ORG for r in records)


def test_operators_cli(sb_env, monkeypatch):
    import json

    from typer.testing import CliRunner

    from host.console.cli import app

    runner = CliRunner()
    monkeypatch.setenv("OP_PASSWORD", "short")
    short = runner.invoke(app, ["create", "hana", "--org", "demo", "--password-env", "OP_PASSWORD"])
    assert short.exit_code == 2 and "at least 10" in short.output
    monkeypatch.setenv("OP_PASSWORD", PASSWORD)
    made = runner.invoke(app, ["create", "hana", "--org", "demo", "--password-env", "OP_PASSWORD", "--json"])
    assert made.exit_code == 0, made.output
    row = json.loads(made.output)
    assert row["org_id"] == "demo" and "password_hash" not in row
    again = runner.invoke(app, ["create", "hana", "--org", "other", "--password-env", "OP_PASSWORD"])
    assert again.exit_code == 2 and "taken" in again.output
    bad = runner.invoke(app, ["create", "bad name!", "--org", "demo", "--password-env", "OP_PASSWORD"])
    assert bad.exit_code == 2
    listed = runner.invoke(app, ["list", "--org", "demo"])
    assert listed.exit_code == 0 and "hana" in listed.output and "active" in listed.output
    off = runner.invoke(app, ["disable", "hana", "--json"])
    assert off.exit_code == 0 and json.loads(off.output)["is_disabled"] is True
    assert runner.invoke(app, ["disable", "nobody"]).exit_code == 2
    listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert [o["username"] for o in listed] == ["hana"] and listed[0]["is_disabled"]


async def test_knowledge_page_uploads_versions_and_toggles(console):
    import httpx2

    from servers.kb_server.store import create_kb, get_kb

    address, _ = console
    kb = await create_kb(ORG, "refunds", "환불 안내")
    async with (
        httpx2.AsyncClient(base_url=f"http://{address}", timeout=60) as mine,
        httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as rival,
    ):
        assert (await _signed_in(mine, "joon")).status_code == 303
        assert (await _signed_in(rival, "eve")).status_code == 303
        listing = await mine.get("/console/kb")
        assert "refunds" in listing.text and "검색 중" in listing.text
        token = _csrf(listing.text)
        doc = "# 환불 정책\n\n환불은 승인 후 1~2영업일 내 완료됩니다. 문의: help@example.com\n".encode()
        sent = await mine.post(
            f"/console/kb/{kb['id']}/upload",
            data={"csrf": token},
            files={"files": ("refund.md", doc, "text/markdown")},
        )
        assert sent.status_code == 303, sent.text
        page = await mine.get(f"/console/kb/{kb['id']}")
        assert "환불 정책" in page.text and "v1" in page.text and 'id="kb-embedding"' in page.text
        empty = await mine.post(f"/console/kb/{kb['id']}/upload", data={"csrf": token})
        assert empty.status_code == 400 and "choose at least one file" in empty.text
        bad = await mine.post(
            f"/console/kb/{kb['id']}/upload", data={"csrf": token}, files={"files": ("x.exe", b"MZ", "application/x")}
        )
        assert bad.status_code == 400
        assert (await get_kb(ORG, kb["id"]))["current_version"] == 1  # a bad file changes nothing
        off = await mine.post(f"/console/kb/{kb['id']}/deactivate", data={"csrf": token})
        assert off.status_code == 303 and not (await get_kb(ORG, kb["id"]))["is_active"]
        assert (await rival.get(f"/console/kb/{kb['id']}")).status_code == 404
        rival_token = _csrf((await rival.get("/console/kb")).text)
        refused = await rival.post(f"/console/kb/{kb['id']}/activate", data={"csrf": rival_token})
        assert refused.status_code == 404 and not (await get_kb(ORG, kb["id"]))["is_active"]


async def test_takeover_rules_and_offline_customer(console):
    import httpx2

    from host.console.sessions import to_csv

    address, _ = console
    session_id = await _escalate(address, '=HYPERLINK("http://evil") 환불 문의')  # the customer has hung up
    async with (
        httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as mina,
        httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as joon,
    ):
        assert (await _signed_in(mina, "mina")).status_code == 303
        assert (await _signed_in(joon, "joon")).status_code == 303
        m_token = _csrf((await mina.get(f"/console/sessions/{session_id}")).text)
        j_token = _csrf((await joon.get(f"/console/sessions/{session_id}")).text)
        early = await joon.post(f"/console/sessions/{session_id}/reply", data={"csrf": j_token, "text": "안녕하세요"})
        assert early.status_code == 409 and "take over" in early.text
        assert (await mina.post(f"/console/sessions/{session_id}/takeover", data={"csrf": m_token})).status_code == 303
        second = await joon.post(f"/console/sessions/{session_id}/takeover", data={"csrf": j_token})
        assert second.status_code == 409 and "another operator" in second.text
        not_mine = await joon.post(f"/console/sessions/{session_id}/handback", data={"csrf": j_token})
        assert not_mine.status_code == 409
        empty = await mina.post(f"/console/sessions/{session_id}/reply", data={"csrf": m_token, "text": "  "})
        assert empty.status_code == 400
        sent = await mina.post(f"/console/sessions/{session_id}/reply", data={"csrf": m_token, "text": "연락드릴게요"})
        assert sent.headers["location"].endswith("?undelivered=1")  # nobody connected: recorded only
        page = await mina.get(sent.headers["location"])
        assert 'id="undelivered"' in page.text and "연락드릴게요" in page.text
        assert (await mina.post(f"/console/sessions/{session_id}/handback", data={"csrf": m_token})).status_code == 303

    from host.console.operators import Operator
    from host.console.sessions import search

    rows = await search(Operator("x", ORG, "x", "x"), customer="cust-7")
    assert [r["id"] for r in rows] == [session_id]
    assert await search(Operator("x", "rival", "x", "x"), customer="cust-7") == []
    text = to_csv([{"id": "s1", "summary_text": '=HYPERLINK("http://evil")', "customer_ref": "@x"}])
    assert "'=HYPERLINK" in text and "'@x" in text


async def test_single_sign_on_through_an_openid_provider(console, monkeypatch):
    import httpx2

    from tests.host.consolehost import serve
    from tests.host.fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeProvider

    address, _ = console
    provider = FakeProvider()
    async with serve(provider.app()) as idp:
        provider.issuer = f"http://{idp}"
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_ISSUER", provider.issuer)
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_CLIENT_SECRET", CLIENT_SECRET)

        async def sso(http) -> httpx2.Response:
            to_idp = await http.get("/console/sso")
            assert to_idp.status_code == 303 and to_idp.headers["location"].startswith(provider.issuer)
            assert "code_challenge_method=S256" in to_idp.headers["location"]
            back = await http.get(to_idp.headers["location"])
            # the callback page hands code and state on to a same-origin URL (see sso_callback)
            landed = await http.get(back.headers["location"])
            assert landed.status_code == 200 and "set-cookie" not in landed.headers
            onward = re.search(r'content="0;url=(/console/sso/finish\?[^"]+)"', landed.text).group(1)
            return await http.get(onward.replace("&amp;", "&"))

        async with httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
            assert 'id="sso"' in (await http.get("/console/login")).text
            provider.next_user = {"preferred_username": "joon", "org": ORG}
            done = await sso(http)
            assert done.status_code == 303 and done.headers["location"] == "/console/queue"
            assert "Joon" in (await http.get("/console/queue")).text
        for user, why in (
            ({"preferred_username": "joon", "org": "rival"}, "no operator account"),  # the token names another org
            ({"preferred_username": "stranger", "org": ORG}, "no operator account"),
        ):
            async with httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
                provider.next_user = user
                refused = await sso(http)
                assert refused.status_code == 403 and why in refused.text
                assert (await http.get("/console/queue")).status_code == 303  # still signed out
        async with httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
            provider.next_user, provider.nonce_override = {"preferred_username": "joon", "org": ORG}, "replayed"
            refused = await sso(http)
            assert refused.status_code == 403 and "does not belong to this sign-in" in refused.text
            provider.nonce_override = None
            forged = await http.get("/console/sso/finish?code=abc&state=forged")
            assert forged.status_code == 403 and "start again" in forged.text


async def test_bot_stays_quiet_while_held_even_for_a_confirmation_button(console):
    import httpx2

    address, _ = console
    async with connect(address) as customer, httpx2.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
        await customer.send(type="session.start", agent="cs-agent", customer_ref="cust-3", language="ko")
        session_id = (await customer.until("session.started"))[-1]["session_id"]
        await customer.send(type="user.message", text="주문번호 8841 조회해 주세요")
        asked = await customer.until("turn.completed")
        assert any(m["type"] == "confirmation.requested" for m in asked)
        assert (await _signed_in(http, "joon")).status_code == 303
        token = _csrf((await http.get(f"/console/sessions/{session_id}")).text)
        assert (await http.post(f"/console/sessions/{session_id}/takeover", data={"csrf": token})).status_code == 303
        assert (await customer.until("operator.joined"))[-1]["operator"] == "Joon"
        await customer.send(type="confirmation.response", confirmed=True)
        held = await customer.until("turn.completed")
        assert held[-1]["status"] == "held" and not any(m["type"] == "tool.started" for m in held)
        assert (await http.post(f"/console/sessions/{session_id}/handback", data={"csrf": token})).status_code == 303
        await customer.until("operator.left")
        await customer.send(type="confirmation.response", confirmed=True)  # the question is still open
        answered = await customer.until("turn.completed")
        assert any(m["type"] == "tool.started" for m in answered)


async def test_erasing_a_customer_removes_console_notes_and_holds(console):
    from sqlalchemy import func, select

    from core.db import get_engine
    from host.console import queue, takeover
    from host.console.operators import get_operator_by_username
    from host.console.tables import review_notes, session_takeovers
    from host.erase import erase_customer_records

    address, _ = console
    session_id = await _escalate(address, "환불 문의 010-9876-5432")
    joon = await get_operator_by_username("joon")
    item = (await queue.list_items(joon))[0]
    await queue.add_note(joon, item["id"], "고객 번호 010-9876-5432 로 콜백 예정")
    await takeover.take_over(joon, session_id)
    await takeover.reply(joon, session_id, "곧 연락드리겠습니다")
    engine = await get_engine()

    async def counts() -> tuple[int, int]:
        async with engine.connect() as conn:
            notes = (await conn.execute(select(func.count()).select_from(review_notes))).scalar()
            holds = (await conn.execute(select(func.count()).select_from(session_takeovers))).scalar()
        return notes, holds

    assert await counts() == (1, 1)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(review_notes.c.note))).scalar()
    assert "010-9876-5432" not in stored  # notes are masked
    await erase_customer_records(ORG, "cust-7", retention_days=0)
    assert await counts() == (0, 0)
