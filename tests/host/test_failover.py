"""Issue 16: host workers behind a real HAProxy on PostgreSQL, the order server over Streamable HTTP.

Two ``switchboard host`` processes, one ``switchboard serve orders --transport http`` and
``haproxy`` with ``deploy/haproxy.cfg`` (host/cluster.py), all on one PostgreSQL database;
customers connect only through the balancer. A session moves between workers with its pending
confirmation; the worker holding a session is killed (SIGKILL) in the middle of a refund and the
customer's next message, on the other worker, carries on with no lost turn, no duplicated turn
and no repeated refund; a worker that loses its database stops taking turns and says so on
``/healthz`` until the database is back.

PostgreSQL pass only (``make test`` runs it): several processes sharing one database across
machines is what PostgreSQL is for here; the limits themselves are tested on both backends in
test_limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from tests.host.test_recovery import _refundable_orders, _refunds, _unresolved, verify
from tests.host.test_ws import connect

ORG = "demo"
REFUND = "orders__request_refund"
STATUS = "orders__get_refund_status"
CRASH = {"SWITCHBOARD_CRASH_AT": f"after_server_write:{REFUND}"}

pytestmark = pytest.mark.skipif(
    os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") != "postgres",
    reason="runs in the PostgreSQL pass of `make test` (workers share one PostgreSQL database)",
)


class TcpProxy:
    """A loopback TCP forwarder to PostgreSQL that the test can cut (the database 'goes away')."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while this one was being set up
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture(scope="module")
def cluster(module_database_url: str):
    """Two workers (the second reaches PostgreSQL through a cuttable proxy), the order server, HAProxy."""
    from sqlalchemy.engine import make_url

    from host.cluster import Cluster, publish_agent
    from servers.order_server.seed import seed

    url = make_url(module_database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.open()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    fast = {"SWITCHBOARD_HOST_HEARTBEAT_S": "0.3", "SWITCHBOARD_HOST_STALE_S": "3"}
    envs = [{**CRASH, **fast}, {**CRASH, **fast, "SWITCHBOARD_DATABASE_URL": proxied}]
    running = Cluster(org=ORG, workers=2, check_ms=300)

    async def setup() -> None:
        from core.db import dispose_engines

        await seed(ORG)
        await running.start_servers()
        await publish_agent(ORG, running)
        await running.start_workers(envs)
        await dispose_engines()

    try:
        asyncio.run(setup())
        yield running, proxy, envs
    finally:
        running.stop()
        proxy.cut()


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _session(address: str, session_id: str) -> dict:
    with urllib.request.urlopen(f"http://{address}/v1/sessions/{session_id}", timeout=10) as response:
        return json.loads(response.read())


async def _until_prompt(client, tool: str) -> dict:
    """Confirm the lookups the planner puts first, until it asks to confirm ``tool``."""
    asked = await client.until("turn.completed")
    for _ in range(4):
        prompt = next(m for m in asked if m["type"] == "confirmation.requested")
        if prompt["exposed_name"] == tool:
            return prompt
        await client.send(type="confirmation.response", confirmed=True)
        asked = await client.until("turn.completed")
    raise AssertionError(f"never asked to confirm {tool}")


async def _audit_counts(session_id: str) -> dict[tuple[str, str], int]:
    """(event type, exposed tool) → records of the host for this session."""
    from audit.schema import audit_event
    from core.db import dispose_engines, get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_event.c.event_type, audit_event.c.exposed_name, audit_event.c.trace_id).where(
                audit_event.c.session_id == session_id, audit_event.c.source == "host"
            )
        )
        out: dict[tuple[str, str], int] = {}
        traces: dict[tuple[str, str], set[str]] = {}
        for kind, name, trace in rows:
            out[(kind, name or "")] = out.get((kind, name or ""), 0) + 1
            traces.setdefault((kind, name or ""), set()).add(trace)
        for key, seen in traces.items():
            assert len(seen) == out[key], f"two {key} records share a trace id"
    await dispose_engines()
    return out


async def _turn_rows(session_id: str) -> list[tuple[int, str]]:
    from core.db import dispose_engines, get_engine
    from host.records import turns

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(turns.c.seq, turns.c.status).where(turns.c.session_id == session_id).order_by(turns.c.seq)
            )
        ).all()
        dupes = (
            await conn.execute(
                select(func.count())
                .select_from(turns)
                .where(turns.c.session_id == session_id)
                .group_by(turns.c.seq)
                .having(func.count() > 1)
            )
        ).all()
    await dispose_engines()
    assert dupes == [], "a turn seq was recorded twice"
    return [(int(s), str(st)) for s, st in rows]


async def test_a_session_moves_to_another_worker_with_its_pending_confirmation(cluster) -> None:
    running, _, _ = cluster
    order_id, customer = (await _refundable_orders())[0]
    async with connect(running.address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref=customer, language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await client.send(type="user.message", text=f"주문번호 {order_id} 환불 신청할게요 단순 변심이라서요")
        asked = await client.until("turn.completed")
        prompt = next(m for m in asked if m["type"] == "confirmation.requested")  # the order lookup first
        assert prompt["exposed_name"] != REFUND
        holder = running.holder()
    # the connection drops; the customer comes back through the balancer, to whichever worker
    for attempt in range(6):
        async with connect(running.address) as client:
            await client.send(type="session.start", session_id=session_id)
            resumed = (await client.until("session.started"))[-1]
            moved = running.holder() != holder
            if not moved and attempt < 5:
                continue  # leastconn broke a tie towards the same worker: come back again
            assert resumed["resumed"] is True and resumed["pending_confirmation"] == prompt["prompt"]
            await client.send(type="confirmation.response", confirmed=True)  # answered on the other worker
            answered = await client.until("turn.completed")
            done = [m for m in answered if m["type"] == "tool.completed"]
            # the lookup, then whether the order can be refunded at all, before the refund is put
            assert [(m["exposed_name"], m["ok"]) for m in done] == [(prompt["exposed_name"], True), (STATUS, True)]
            following = next(m for m in answered if m["type"] == "confirmation.requested")
            assert following["exposed_name"] == REFUND and order_id in following["prompt"]
            break
    assert moved, "HAProxy never sent the customer to the other worker"
    assert [s for s, _ in await _turn_rows(session_id)] == [1, 2]  # one turn per message, none twice


async def test_one_connection_drives_a_session_at_a_time(cluster) -> None:
    running, _, _ = cluster
    first, second = (f"127.0.0.1:{p}" for p in running.worker_ports)
    async with connect(first) as old, connect(second) as new:
        try:
            await _drive_one_session(old, new, first)
        except TimeoutError:
            raise AssertionError(f"old {old.received}\nnew {new.received}") from None
        session_id = old.received[0]["session_id"]
    assert [s for s, _ in await _turn_rows(session_id)] == [1, 2]  # the refused messages made no turn


async def _drive_one_session(old, new, first: str) -> None:
    """old starts a session, new resumes it: old is refused, until a third connection takes it back."""
    await old.send(type="session.start", agent="cs-agent", language="ko")
    session_id = (await old.until("session.started"))[-1]["session_id"]
    await new.send(type="session.start", session_id=session_id)  # the same session, on the other worker
    assert (await new.until("session.started"))[-1]["resumed"] is True
    await old.send(type="user.message", text="환불 규정 알려 주세요")
    refused = (await old.until("error"))[-1]
    assert refused["code"] == "CONFLICT" and "another connection" in refused["message"]
    await new.send(type="user.message", text="환불 규정 알려 주세요")
    assert (await new.until("turn.completed"))[-1]["status"] == "completed"
    async with connect(first) as again:  # taking it back is explicit: resume it again
        await again.send(type="session.start", session_id=session_id)
        await again.until("session.started")
        await new.send(type="user.message", text="감사합니다")
        assert (await new.until("error"))[-1]["code"] == "CONFLICT"
        await again.send(type="user.message", text="감사합니다")
        assert (await again.until("turn.completed"))[-1]["status"] == "completed"


async def test_worker_killed_mid_refund_the_next_message_continues_on_the_other(cluster) -> None:
    from websockets.exceptions import ConnectionClosed

    running, _, envs = cluster
    order_id, customer = (await _refundable_orders())[-1]
    before = await _refunds(order_id)
    sent = 0
    async with connect(running.address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref=customer, language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await client.send(type="user.message", text=f"주문번호 {order_id} 환불 신청할게요 단순 변심이라서요")
        sent += 1
        prompt = await _until_prompt(client, REFUND)
        sent += len([m for m in client.received if m["type"] == "turn.completed"]) - 1
        assert order_id in prompt["prompt"]
        holder = running.holder()
        await client.send(type="confirmation.response", confirmed=True)  # the refund is made, then SIGKILL
        sent += 1
        with pytest.raises((ConnectionClosed, TimeoutError)):
            await client.until("turn.completed", timeout=60)
    killed = running.worker_procs[holder]
    assert killed is not None and await asyncio.to_thread(killed.wait, 30) == -9
    survivor = 1 - holder
    assert running.worker_procs[survivor].poll() is None
    assert await _refunds(order_id) == before + 1  # the write was made before the kill
    assert len(await _unresolved(session_id)) == 1  # ... and its result never recorded

    async with connect(running.address) as client:  # the balancer: the dead worker is refused/retried
        await client.send(type="session.start", session_id=session_id)
        resumed = (await client.until("session.started"))[-1]
        assert resumed["resumed"] is True and running.holder() == survivor
        await client.send(type="user.message", text="네 고마워요")
        sent += 1
        after = await client.until("turn.completed")
        said = " ".join(m["text"] for m in after if m["type"] == "assistant.message")
        assert "환불 요청은 처리되었습니다" in said and "접수번호 RF" in said, said
    await running.start_worker(holder, envs[holder])  # back to two for the next test
    await running.wait_up(2)

    assert await _refunds(order_id) == before + 1  # no repeated write
    assert await _unresolved(session_id) == []  # the recovered call has its result now
    rows = await _turn_rows(session_id)
    assert [s for s, _ in rows] == list(range(1, sent + 1))  # every message has its turn, none twice
    assert [s for s, st in rows if st == "failed"] == [sent - 1]  # the killed turn: recorded, closed
    assert all(st != "open" for _, st in rows)
    audit = await _audit_counts(session_id)
    assert audit[("tool_call", REFUND)] == 1 and audit[("tool_result", REFUND)] == 1
    detail = await asyncio.to_thread(_session, running.address, session_id)
    assert detail["turns"][sent - 2]["error_code"] == "INTERRUPTED"
    assert (await verify("--strict")).exit_code == 0  # the chain is intact; no call lacks its result


async def test_a_worker_that_loses_its_database_stops_taking_turns(cluster) -> None:
    running, proxy, _ = cluster
    port = running.worker_ports[1]  # the worker behind the proxy
    assert _health(port)[0] == 200
    async with connect(f"127.0.0.1:{port}") as direct:  # a customer already on that worker
        await direct.send(type="session.start", agent="cs-agent", language="ko")
        session_id = (await direct.until("session.started"))[-1]["session_id"]
        proxy.cut()
        deadline = time.monotonic() + 15
        while (status := _health(port))[0] == 200:
            assert time.monotonic() < deadline, "healthz still 200 after the database went away"
            await asyncio.sleep(0.1)
        code, body = status
        assert code == 503 and body["status"] == "degraded" and body["database"].startswith("error: ")
        assert body["worker"]["accepting_turns"] is False
        await direct.send(type="user.message", text="배송 언제 와요")
        refused = (await direct.until("error"))[-1]
        assert refused["code"] == "UNAVAILABLE" and "session_id" in refused["message"]
    await running.wait_up(1)  # HAProxy took it out of rotation
    async with connect(running.address) as client:  # the customer resumes on the healthy worker
        await client.send(type="session.start", session_id=session_id)
        assert (await client.until("session.started"))[-1]["resumed"] is True
        assert running.holder() == 0
        await client.send(type="user.message", text="배송 언제 와요")
        assert (await client.until("turn.completed"))[-1]["status"] == "completed"

    proxy.open()  # the database is back: so is the worker, by itself
    await running.wait_up(2)
    assert _health(port)[0] == 200
