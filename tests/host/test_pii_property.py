"""Property: personal data typed into any free-text input never lands raw under SWITCHBOARD_HOME.

Generated resident registration, card (Luhn-valid), account, phone numbers and e-mail addresses are
put into every free-text input a conversation has (utterances, an ASR transcript, a refund reason,
a correction, a button's correction text, a request for a person, caller and metadata) and into
the memory server's add/update/search inputs. The conversation's KB search and memory tools reach
real servers (audited): a KB embedded into the embedded Chroma store under SWITCHBOARD_HOME, and the
memory server with dense vectors on (real e5; the background embedding is drained). Then the exports
a user makes are written under SWITCHBOARD_HOME through the real CLI (``memory export``, ``audit
export`` sealed and ``--decrypt``, ``review show --json`` of each review item), and every file there
(the database, its -wal, the Chroma sqlite and HNSW segment files, the exports, anything else) is
searched for the raw values, including registration and card numbers without separators.
Telemetry is on meanwhile (in-memory span exporter and metric reader, Prometheus exposition): every
span name, attribute, event and resource, every metric point's attributes and the ``/metrics`` text
are searched too.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.host.conftest import make_layer, with_memory

ORG, CUSTOMER = "demo", "cust-pii"  # the org of tests.host.conftest.PROFILE
KB_DOC = "# 환불 정책\n\n환불은 승인 후 1~2영업일 내 완료됩니다. 카드 결제는 최대 3영업일이 걸릴 수 있습니다.\n"


def _luhn_complete(body: str) -> str:
    total = 0
    for index, ch in enumerate(reversed(body)):
        digit = int(ch)
        if index % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return body + str((10 - total % 10) % 10)


rrns = st.builds(
    lambda y, m, d, g, rest: f"{y:02d}{m:02d}{d:02d}-{g}{rest:06d}",
    st.integers(0, 99), st.integers(1, 12), st.integers(1, 28), st.integers(1, 4), st.integers(0, 999_999),
)  # fmt: skip
cards = st.builds(
    lambda first, body: "-".join(_luhn_complete(f"{first}{body:014d}")[i : i + 4] for i in range(0, 16, 4)),
    st.sampled_from("45"), st.integers(0, 10**14 - 1),
)  # fmt: skip
accounts = st.builds(
    lambda a, b, c: f"{a:03d}-{b:03d}-{c:06d}",
    st.integers(100, 999),
    st.integers(0, 999),
    st.integers(100_000, 999_999),
)
phones = st.builds(lambda a, b: f"010-{a:04d}-{b:04d}", st.integers(1000, 9999), st.integers(1000, 9999))
emails = st.builds(
    lambda u, d: f"{u}@{d}.com",
    st.from_regex(r"[a-z]{3,8}\.[a-z]{2,6}", fullmatch=True),
    st.from_regex(r"[a-z]{4,8}", fullmatch=True),
)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _raw_forms(values: dict[str, str]) -> list[str]:
    forms = []
    for kind, value in values.items():
        forms.append(value)
        if kind in ("rrn", "card"):
            forms.append(_digits(value))  # the same number without separators
    return forms


def _leaks(home: Path, forms: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path.relative_to(home)), f) for f in forms if f.encode() in data]
    return found


@pytest.fixture(scope="module")
def stores(module_database_url: str) -> Iterator[Path]:
    """Memory vectors on (real e5), a real KB with its chunks embedded into the embedded Chroma store
    under SWITCHBOARD_HOME; the KB's own background embedder off (the fixture embeds it to completion)."""
    saved = {k: os.environ.get(k) for k in ("SWITCHBOARD_MEMORY_VECTORS", "SWITCHBOARD_KB_BACKGROUND_EMBED")}
    os.environ["SWITCHBOARD_MEMORY_VECTORS"] = "on"
    os.environ["SWITCHBOARD_KB_BACKGROUND_EMBED"] = "0"

    async def create_kb() -> int:
        from core.db import dispose_engines
        from servers.kb_server import store
        from servers.kb_server.vectors import embed_all

        try:
            await store.create_kb(ORG, "정책")
            await store.upload(ORG, "정책", [store.UploadItem("refund.md", KB_DOC.encode())])
            return await embed_all()
        finally:
            await dispose_engines()

    try:
        assert asyncio.run(create_kb()) >= 1
        yield Path(os.environ["SWITCHBOARD_HOME"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _kb_server() -> Any:
    from audit.middleware import AuditHook
    from servers.kb_server.app import build_server
    from servers.kit import ServerLaunch

    return build_server(launch=ServerLaunch(org_id=ORG), hooks=[AuditHook("kb")])


def _memory_server() -> Any:
    from audit.middleware import AuditHook
    from servers.kit import ServerLaunch
    from servers.memory_server.app import build_server

    return build_server(launch=ServerLaunch(org_id=ORG, customer_ref=CUSTOMER), hooks=[AuditHook("memory")])


async def _drain_vectors() -> int:
    """Wait for the memory server's background embedding; the number of memory vectors stored."""
    from sqlalchemy import func, select

    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_item, memory_vector
    from tests.servers.memory.conftest import drain_vectors

    await drain_vectors()
    engine = await memory_engine()
    async with engine.connect() as conn:
        missing = await conn.scalar(select(func.count()).where(memory_item.c.vector_model.is_(None)))
        stored = await conn.scalar(select(func.count()).select_from(memory_vector))
    assert missing == 0  # every memory was embedded
    return int(stored or 0)


async def _conversation(values: dict[str, str]) -> None:
    from fastmcp import Client

    from audit import close
    from core.db import dispose_engines
    from host.engine import Conversation
    from host.providers.offline import OfflinePlanner
    from host.store import RecordStore
    from servers.memory_server.service import reset_services
    from tests.host.conftest import PROFILE
    from tests.servers.memory.conftest import Caller

    rrn, card, account, phone, email = (values[k] for k in ("rrn", "card", "account", "phone", "email"))
    layer = make_layer(request_refund="confirm")
    with_memory(layer, [])
    try:
        async with Client(_kb_server()) as kb_client, Client(_memory_server()) as memory_client:
            kb, memory = Caller(kb_client), Caller(memory_client)

            async def kb_search(args: dict[str, Any]) -> dict[str, Any]:
                found = await kb("search", args)
                assert found.pop("ok"), found
                return found

            async def memory_call(name: str, args: dict[str, Any]) -> dict[str, Any]:
                found = await memory(name, args)
                assert found.pop("ok"), found
                return found

            # the KB and memory tools reach the real servers (audited, vectors on)
            layer.handlers["kb_search"] = kb_search
            layer.handlers["memory_list_memories"] = lambda a: memory_call("list_memories", a)
            layer.handlers["memory_add_memory"] = lambda a: memory_call("add_memory", a)
            conv = await Conversation.start(
                profile=PROFILE,
                layer=layer,
                provider=OfflinePlanner(),
                store=RecordStore(),
                customer_ref=CUSTOMER,
                caller=phone,
                metadata={"note": f"메일 {email} 카드 {card}"},
            )
            try:
                await conv.user_message(
                    f"주문번호 8841 환불 신청하고 싶어요 제 번호 {phone} 메일 {email}", asr_confidence=0.9
                )
                await conv.user_message("네")
                await conv.user_message(f"단순 변심이요 카드 {card} 로 환불 주민번호 {rrn} 계좌 {account}")
                if conv.state.pending:
                    await conv.confirmation_response(False, correction_text=f"아니요 계좌 {account} 로 주세요 {email}")
                await conv.user_message(f"환불 규정이 어떻게 되는 거예요 주민번호 {rrn} 불러 드려요")
                await conv.user_message(f"상담원 연결해 주세요 연락처 {phone} 카드 {card}")
            finally:
                await conv.end()
            await _drain_vectors()
    finally:
        await RecordStore().aclose()
        await close()
        await reset_services()
        await dispose_engines()
    assert any(call[0] == "kb_search" for call in layer.calls)  # the real KB was searched


async def _memory(values: dict[str, str]) -> int:
    from fastmcp import Client

    from audit import close
    from core.db import dispose_engines
    from servers.memory_server.service import reset_services
    from tests.servers.memory.conftest import Caller

    try:
        async with Client(_memory_server()) as client:
            call = Caller(client)
            added = await call(
                "add_memory", {"text": f"환불은 카드 {values['card']} 취소로 원함, 주민 {values['rrn']}"}
            )
            if added["ok"]:
                memory_id = added["results"][0]["id"]
                await call(
                    "update_memory",
                    {"id": memory_id, "text": f"연락은 {values['phone']} 또는 {values['email']}로 원함"},
                )
            await call(
                "add_memory",
                {
                    "messages": [
                        {
                            "role": "user",
                            "content": f"제 계좌는 {values['account']} 이고 집 전화 {values['phone']} 예요",
                        }
                    ]
                },
            )
            await call("search_memories", {"query": f"연락처 {values['phone']} 카드 {values['card']}"})
            return await _drain_vectors()
    finally:
        await close()
        await reset_services()
        await dispose_engines()


def _cli(*args: str) -> str:
    from typer.testing import CliRunner

    from switchboard_cli import build_app

    result = CliRunner().invoke(build_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _export(home: Path) -> list[Path]:
    """The exports a user would make, written under SWITCHBOARD_HOME: the customer's memories, the
    org's audit records (sealed, and with --decrypt), and each review item with its session's turns."""
    out = home / "exports"
    out.mkdir(exist_ok=True)
    files = [out / "memory.json", out / "audit.jsonl", out / "audit-decrypted.jsonl"]
    _cli("memory", "export", "--org", ORG, "--customer", CUSTOMER, "-o", str(files[0]))
    _cli("audit", "export", "--org", ORG, "-o", str(files[1]))
    _cli("audit", "export", "--org", ORG, "--decrypt", "-o", str(files[2]))
    items = json.loads(_cli("review", "list", "--org", ORG, "--status", "all", "--json"))
    items = items["items"] if isinstance(items, dict) else items
    assert items  # the request for a person left a review item
    for item in items:
        target = out / f"review-{item['id']}.json"
        target.write_text(_cli("review", "show", item["id"], "--json"), encoding="utf-8")
        files.append(target)
    return files


@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.generate],  # a conversation takes seconds: report the failing example, do not shrink it
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rrn=rrns, card=cards, account=accounts, phone=phones, email=emails)
def test_personal_data_never_lands_raw(stores, rrn, card, account, phone, email):
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from core import telemetry

    values = {"rrn": rrn, "card": card, "account": account, "phone": phone, "email": email}
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry.configure("switchboard-pii", span_exporter=spans, metric_readers=[reader], prometheus=True)
    try:
        asyncio.run(_conversation(values))
        vectors = asyncio.run(_memory(values))
        exported = _telemetry_text(spans, reader)
    finally:
        telemetry.shutdown()
    home = stores
    exports = _export(home)
    assert vectors >= 1  # memory vectors were really stored (rows beside the memories)
    assert all(path.stat().st_size > 0 for path in exports), exports
    chroma = [p for p in (home / "chroma").rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert any(p.name == "chroma.sqlite3" for p in chroma)  # the KB's vectors: the scan covers them
    assert _leaks(home, _raw_forms(values)) == []
    assert "invoke_agent" in exported and "tools/call" in exported  # the exporters did see the calls
    assert [f for f in _raw_forms(values) if f in exported] == []


def _telemetry_text(spans, reader) -> str:
    """Everything the exporters would send, as one text: span names, attributes, events, resources,
    metric point attributes and the Prometheus exposition."""
    from core import telemetry

    parts = []
    for span in spans.get_finished_spans():
        parts += [span.name, repr(dict(span.attributes)), repr(dict(span.resource.attributes))]
        parts += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
        parts += [str(span.status.description or "")]
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for scope in rm.scope_metrics:
            for metric in scope.metrics:
                parts += [metric.name] + [repr(dict(p.attributes or {})) for p in metric.data.data_points]
    parts.append((telemetry.prometheus_text() or b"").decode())
    return "\n".join(parts)
