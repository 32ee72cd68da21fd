"""Property: personal data typed into any free-text input never lands raw under SWITCHBOARD_HOME.

Generated resident registration, card (Luhn-valid), account, phone numbers and e-mail addresses are
put into every free-text input a conversation has (utterances, an ASR transcript, a refund reason,
a correction, a button's correction text, a request for a person, caller and metadata) and into
the memory server's add/update/statement inputs; afterwards every file under SWITCHBOARD_HOME (the
database, its -wal and -journal files, anything else there) is searched for the raw values.
Telemetry is on meanwhile (in-memory span exporter and metric reader, Prometheus exposition): every
span name, attribute, event and resource, every metric point's attributes and the ``/metrics`` text
are searched too.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.host.conftest import make_layer, with_memory


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


async def _conversation(values: dict[str, str]) -> None:
    from core.db import dispose_engines
    from host.engine import Conversation
    from host.providers.offline import OfflinePlanner
    from host.store import RecordStore
    from tests.host.conftest import PROFILE

    rrn, card, account, phone, email = (values[k] for k in ("rrn", "card", "account", "phone", "email"))
    layer = make_layer(request_refund="confirm")
    with_memory(layer, [])
    conv = await Conversation.start(
        profile=PROFILE,
        layer=layer,
        provider=OfflinePlanner(),
        store=RecordStore(),
        customer_ref="cust-pii",
        caller=phone,
        metadata={"note": f"메일 {email} 카드 {card}"},
    )
    try:
        await conv.user_message(f"주문번호 8841 환불 신청하고 싶어요 제 번호 {phone} 메일 {email}", asr_confidence=0.9)
        await conv.user_message("네")
        await conv.user_message(f"단순 변심이요 카드 {card} 로 환불 주민번호 {rrn} 계좌 {account}")
        await conv.user_message(f"어떻게 되는 거예요 주민번호 {rrn} 불러 드려요")
        if conv.state.pending:
            await conv.confirmation_response(False, correction_text=f"아니요 계좌 {account} 로 주세요 {email}")
        await conv.user_message(f"상담원 연결해 주세요 연락처 {phone} 카드 {card}")
    finally:
        await conv.end()
        await RecordStore().aclose()
        await dispose_engines()


async def _memory(values: dict[str, str]) -> None:
    from fastmcp import Client

    from core.db import dispose_engines
    from servers.memory_server.service import reset_services
    from tests.servers.memory.conftest import Caller, server_for

    try:
        async with Client(server_for(customer="cust-pii")) as client:
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
    finally:
        await reset_services()
        await dispose_engines()


@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.generate],  # a conversation takes seconds: report the failing example, do not shrink it
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rrn=rrns, card=cards, account=accounts, phone=phones, email=emails)
def test_personal_data_never_lands_raw(module_database_url, rrn, card, account, phone, email):
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from core import telemetry

    os.environ["SWITCHBOARD_MEMORY_VECTORS"] = "off"
    values = {"rrn": rrn, "card": card, "account": account, "phone": phone, "email": email}
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry.configure("switchboard-pii", span_exporter=spans, metric_readers=[reader], prometheus=True)
    try:
        asyncio.run(_conversation(values))
        asyncio.run(_memory(values))
        exported = _telemetry_text(spans, reader)
    finally:
        telemetry.shutdown()
    home = Path(os.environ["SWITCHBOARD_HOME"])
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
