"""The operator console in a real browser (Debian's chromium + chromedriver, headless, via Selenium).

A customer chats over the host's WebSocket while an operator works the console: the escalation
appears live, the operator claims it, takes over, replies (the customer's WebSocket receives it),
hands back and resolves; customer-typed markup renders as text; an approval unblocks the waiting
turn. A screenshot of each page goes to tests/artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.host.consolehost import ORG, OTHER_ORG, PASSWORD, console_host
from tests.host.test_ws import connect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
XSS = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> 배송 문의"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_argument("--lang=ko-KR")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.quit()


class Page:
    """Selenium calls off the event loop (the host under test runs on it)."""

    def __init__(self, driver, address: str) -> None:
        self.driver = driver
        self.base = f"http://{address}"

    async def call(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self.call(self.driver.get, self.base + path)

    async def find(self, css: str):
        from selenium.webdriver.common.by import By

        return await self.call(self.driver.find_element, By.CSS_SELECTOR, css)

    async def type(self, css: str, text: str) -> None:
        element = await self.find(css)
        await self.call(element.clear)
        await self.call(element.send_keys, text)

    async def click(self, css: str) -> None:
        """Click, again if a live update replaced the element meanwhile."""
        from selenium.common.exceptions import StaleElementReferenceException

        for _ in range(5):
            try:
                await self.call((await self.find(css)).click)
                return
            except StaleElementReferenceException:
                await asyncio.sleep(0.2)
        raise AssertionError(f"{css} kept being replaced")

    async def text(self, css: str) -> str:
        return await self.call(lambda: self.driver.find_element("css selector", css).text)

    async def wait_text(self, css: str, wanted: str, timeout: float = 20) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        seen = ""
        while asyncio.get_running_loop().time() < deadline:
            try:
                seen = await self.text(css)
            except Exception:
                seen = ""
            if wanted in seen:
                return seen
            await asyncio.sleep(0.2)
        raise AssertionError(f"{css} never showed {wanted!r}; last saw {seen!r}")

    async def shot(self, name: str) -> None:
        await self.call(self.driver.save_screenshot, str(ARTIFACTS / f"{name}.png"))

    async def status(self) -> int:
        """The HTTP status of the page the browser shows, as the browser received it."""
        return await self.call(
            self.driver.execute_script, "return performance.getEntriesByType('navigation')[0].responseStatus"
        )

    async def sign_in(self, username: str, org: str = ORG) -> None:
        await self.call(self.driver.execute_cdp_cmd, "Network.clearBrowserCookies", {})  # every site's
        await self.open("/console/login")
        await self.type("#username", username)
        await self.type("#password", PASSWORD)
        await self.click("#sign-in")
        await self.wait_text("header .me", org)


@pytest.fixture
async def console(database_url, driver):
    async with console_host() as (address, people):
        yield address, people
        await asyncio.to_thread(driver.get, "about:blank")  # close the page's event streams first


async def until_type(client, kind: str, timeout: float = 20) -> dict:
    return (await client.until(kind, timeout))[-1]


async def test_operator_takes_over_an_escalation_in_the_browser(console, driver):
    address, people = console
    page = Page(driver, address)
    await page.open("/console/login")
    await page.shot("01-login")
    await page.sign_in("mina")
    await page.open("/console/queue")
    await page.wait_text("#queue-rows", "항목이 없습니다")
    await page.call(driver.execute_script, "window.__stayed = 'yes'")

    async with connect(address) as customer:
        await customer.send(type="session.start", agent="cs-agent", customer_ref="cust-42", language="ko")
        session_id = (await until_type(customer, "session.started"))["session_id"]
        await customer.send(type="user.message", text=XSS)
        await until_type(customer, "turn.completed")
        await customer.send(type="user.message", text="상담원 연결해 주세요")
        assert any(m["type"] == "escalated" for m in await customer.until("turn.completed"))

        # the escalation appears in the open queue without a reload
        row = await page.wait_text("#queue-rows", "cust-42")
        assert "escalation" in row
        assert await page.call(driver.execute_script, "return window.__stayed") == "yes"
        await page.shot("02-queue")

        await page.click("#queue-rows a.review-link")
        await page.click("#claim")
        assert await page.wait_text("#review-owner", "김민아")
        await page.shot("03-review")

        await page.click("#open-session")
        # markup the customer typed is text on the operator's screen, and nothing ran
        shown = await page.wait_text("#transcript", "<script>")
        assert "<img src=x onerror=" in shown
        assert await page.call(lambda: driver.title) != "pwned"
        await page.click("#takeover")
        await page.wait_text("#held-notice", "상담봇은 멈춰")
        joined = await until_type(customer, "operator.joined")
        assert joined["operator"] == "김민아" and joined["session_id"] == session_id

        await page.type("#reply-text", "안녕하세요, 상담원 김민아입니다. 무엇을 도와드릴까요?")
        await page.click("#reply")
        message = await until_type(customer, "operator.message")
        assert message["text"] == "안녕하세요, 상담원 김민아입니다. 무엇을 도와드릴까요?"
        assert message["operator"] == "김민아"

        # while the operator holds the session the bot is quiet: the message is recorded and shown
        await customer.send(type="user.message", text="네 제 카드 4111-1111-1111-1111 결제 건이요")
        held = await customer.until("turn.completed")
        assert held[-1]["status"] == "held"
        assert not any(m["type"] == "assistant.message" for m in held)
        live = await page.wait_text("#transcript", "결제 건이요")
        assert "4111-1111-1111-1111" not in live  # stored masked
        await page.shot("04-takeover")

        await page.click("#handback")
        await until_type(customer, "operator.left")
        await page.wait_text("#takeover-controls", "상담 이어받기")
        await customer.send(type="user.message", text="환불 규정이 궁금해요")
        answered = await customer.until("turn.completed")
        assert any(m["type"] == "assistant.message" for m in answered)  # the bot answers again

    await page.open("/console/queue?view=mine")
    await page.wait_text("#queue-rows", "cust-42")
    await page.click("#queue-rows a.review-link")
    await page.type("#resolve-note", "고객에게 환불 규정 안내, 콜백 불필요")
    await page.click("#resolve")
    assert await page.wait_text("#review-status", "Resolved")
    await page.open("/console/queue?view=resolved")
    await page.wait_text("#queue-rows", "cust-42")

    await page.open("/console/sessions?customer=cust-42")
    await page.wait_text("tbody", "cust-42")
    await page.shot("05-sessions")
    await page.open(f"/console/sessions/{session_id}")
    turns = await page.text("#transcript")
    assert "상담원" in turns and "안녕하세요, 상담원 김민아입니다" in turns
    await page.shot("06-session")
    await page.open("/console/audit?verify=1")
    assert "정상" in await page.wait_text("#audit-verified", "정상")
    await page.shot("07-audit")
    await page.open("/console/audit?lang=en")
    await page.wait_text("h1", "Audit")
    await page.open("/console/queue?lang=ko")

    from audit.store import tail

    actions = [r for r in await tail(ORG, limit=100) if r.event_type.startswith("operator_")]
    kinds = {r.event_type for r in actions}
    assert {"operator_sign_in", "operator_claim", "operator_takeover", "operator_message"} <= kinds
    assert {"operator_handback", "operator_resolve", "operator_audit_verify"} <= kinds
    assert {r.actor for r in actions} == {f"operator:{people['mina']['id']}"}

    from host.store import RecordStore

    detail = await RecordStore().session_detail(session_id)
    by_actor = [t for t in detail["turns"] if t["actor"] == f"operator:{people['mina']['id']}"]
    assert len(by_actor) == 1 and by_actor[0]["status"] == "operator"
    seqs = [t["seq"] for t in detail["turns"]]
    assert seqs == list(range(1, len(seqs) + 1))  # operator, held and bot turns never share a number


async def test_approval_in_the_browser_unblocks_the_waiting_turn(console, driver):
    address, _ = console
    page = Page(driver, address)
    await page.sign_in("joon")
    async with connect(address) as customer:
        await customer.send(type="session.start", agent="approver", customer_ref="cust-9", language="ko")
        await until_type(customer, "session.started")
        await customer.send(type="user.message", text="주문 8841 조회해 주세요")
        waiting = await until_type(customer, "assistant.message")
        assert "승인" in waiting["text"]

        await page.open("/console/queue?kind=approval")
        await page.wait_text("#queue-rows", "cust-9")
        await page.click("#queue-rows a.review-link")
        assert '"order_id": "8841"' in await page.text("#approval-arguments")
        await page.shot("08-approval")
        await page.click("#approve")  # no reason: the browser refuses to submit (required field)
        assert "Open" in await page.text("#review-status")
        await page.type("#approve-reason", "본인 확인 완료")
        await page.click("#approve")
        continued = await until_type(customer, "assistant.message")
        assert "8841" in continued["text"]
        assert await page.wait_text("#review-status", "Executed")

    from servers.kb_server.store import create_kb

    kb = await create_kb(ORG, "배송 안내", "택배사와 배송 기간")
    await page.open("/console/kb")
    await page.wait_text("#kb-rows", "배송 안내")
    await page.open(f"/console/kb/{kb['id']}")
    await page.click("button.kb-toggle")
    assert "검색 안 함" in await page.wait_text("#kb-state", "검색 안 함")
    await page.shot("09-knowledge")


async def test_another_orgs_operator_gets_404_in_the_browser(console, driver):
    address, _ = console
    page = Page(driver, address)
    async with connect(address) as customer:
        await customer.send(type="session.start", agent="cs-agent", customer_ref="cust-77", language="ko")
        session_id = (await until_type(customer, "session.started"))["session_id"]
        await customer.send(type="user.message", text="상담원 연결해 주세요")
        assert any(m["type"] == "escalated" for m in await customer.until("turn.completed"))

    # the rightful org's operator sees the item and its session
    await page.sign_in("mina")
    await page.open("/console/queue")
    await page.wait_text("#queue-rows", "cust-77")
    review_id = await page.call(
        driver.execute_script, "return document.querySelector('#queue-rows tr.review-row').dataset.reviewId"
    )
    for path in (f"/console/reviews/{review_id}", f"/console/sessions/{session_id}"):
        await page.open(path)
        assert await page.status() == 200, path

    # an operator of another org: both URLs are "not found", and their queue is empty
    await page.sign_in("eve", OTHER_ORG)
    for path, message in (
        (f"/console/reviews/{review_id}", f"no review item {review_id}"),
        (f"/console/sessions/{session_id}", f"no session {session_id}"),
    ):
        await page.open(path)
        assert await page.status() == 404, path
        assert message in await page.wait_text("#error-message", message)
        assert "cust-77" not in await page.text("main")
        if path.startswith("/console/reviews/"):
            await page.shot("10-other-org-404")
    for view in ("open", "resolved"):
        await page.open(f"/console/queue?view={view}")
        rows = await page.wait_text("#queue-rows", "항목이 없습니다")
        assert "cust-77" not in rows
        assert not await page.call(driver.find_elements, "css selector", "#queue-rows tr.review-row")


async def test_single_sign_on_through_the_real_openid_provider(console, driver, tmp_path, monkeypatch):
    """The console's SSO button → the npm oidc-provider (tests/oidc/provider.mjs) on another site
    (localhost, while the console is on 127.0.0.1) → its login form → back in the console, signed in."""
    from tests.oidc.provider import running_provider

    address, people = console
    page = Page(driver, address)
    settings = {"OIDC_HOST": "localhost", "OIDC_CONSOLE_REDIRECT_URIS": f"http://{address}/console/sso/callback"}
    with running_provider(tmp_path / "provider.log", settings) as issuer:
        assert issuer.startswith("http://localhost:")
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_ISSUER", issuer)
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_CLIENT_ID", "switchboard-console")
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_CLIENT_SECRET", "switchboard-console-secret")
        monkeypatch.setenv("SWITCHBOARD_CONSOLE_OIDC_ORG_CLAIM", "org_id")  # the provider's org claim

        async def through_provider(username: str) -> None:
            await page.call(driver.execute_cdp_cmd, "Network.clearBrowserCookies", {})  # console's and provider's
            await page.open("/console/login")
            await page.click("#sso")
            await page.wait_text("h1", "Test provider")
            assert (await page.call(lambda: driver.current_url)).startswith(f"{issuer}/interaction/")
            await page.type("#provider-login", username)
            if username == "joon":
                await page.shot("11-sso-provider")
            await page.click("#provider-sign-in")

        await through_provider("joon")
        await page.wait_text("header .me", "Joon")
        assert (await page.call(lambda: driver.current_url)) == f"http://{address}/console/queue"
        await page.wait_text("#queue-rows", "항목이 없습니다")
        await page.shot("12-sso-signed-in")
        # signed in for good: the next page keeps the session
        await page.open("/console/sessions")
        assert "Joon" in await page.text("header .me")

        # the provider vouches for "eve" of demo, but eve is an operator of rival: no sign-in here
        await through_provider("eve")
        refused = await page.wait_text("#error-message", "no operator account")
        assert "'eve' of org 'demo'" in refused and await page.status() == 403
        await page.open("/console/queue")
        assert (await page.call(lambda: driver.current_url)).endswith("/console/login")

    from audit.store import tail

    sso = [r for r in await tail(ORG, limit=50) if r.event_type == "operator_sign_in"]
    assert [(r.actor, r.details["method"], r.details["issuer"]) for r in sso] == [
        (f"operator:{people['joon']['id']}", "sso", issuer)
    ]
