"""Turning telemetry on and off, the Prometheus exposition, and ids that may carry personal data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import telemetry


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"traces": False, "otlp_metrics": False, "prometheus": False}),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, {"traces": True, "otlp_metrics": True}),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, {"traces": True, "otlp_metrics": False}),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, {"traces": True, "otlp_metrics": False}),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, {"traces": False}),
        ({"SWITCHBOARD_METRICS": "1"}, {"traces": False, "prometheus": True}),
        ({"SWITCHBOARD_METRICS": "no"}, {"prometheus": False}),
        ({"OTEL_SDK_DISABLED": "true", "SWITCHBOARD_METRICS": "1", "OTEL_TRACES_EXPORTER": "otlp"},
         {"traces": False, "otlp_metrics": False, "prometheus": False}),
    ],
)  # fmt: skip
def test_the_standard_variables_decide_what_is_on(env, expected):
    wanted = telemetry.wanted(env)
    assert {k: wanted[k] for k in expected} == expected


def test_off_by_default_loads_no_opentelemetry_module():
    """A host app and an order server built with no OTEL_* set: neither the SDK nor the Prometheus
    client is imported (the OpenTelemetry *API* is: the MCP SDK and fastmcp import it themselves)."""
    code = (
        "import sys, os\n"
        "for k in list(os.environ):\n"
        "    if k.startswith('OTEL_') or k == 'SWITCHBOARD_METRICS': del os.environ[k]\n"
        "from host.app import create_app\n"
        "from host.runtime import HostRuntime\n"
        "app = create_app(HostRuntime())\n"
        "from servers import catalog\n"
        "from servers.kit import ServerLaunch\n"
        "catalog.build('orders', launch=ServerLaunch(org_id='demo'))\n"
        "from core import telemetry\n"
        "assert not telemetry.ON\n"
        "[metrics] = [r for r in app.routes if getattr(r, 'path', '') == '/metrics']\n"
        "assert metrics.endpoint.__name__ == 'metrics_off'\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter', 'prometheus')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "print(sorted(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_prometheus_exposition_parses_with_the_prometheus_client(captured):
    telemetry.record_tool_call("host", "orders__get_order", 0.004, None)
    telemetry.record_tool_call("host", "orders__get_order", 0.2, "NOT_FOUND")
    telemetry.record_tool_call("server:orders", "get_order", 0.003, None)
    telemetry.set_gauge("switchboard.kb.vectors.pending", {(("switchboard.org.id", "demo"),): 7})
    families = {f.name: f for f in text_string_to_metric_families(telemetry.prometheus_text().decode())}
    calls = families["switchboard_tool_calls"]
    assert calls.type == "counter"
    by_labels = {tuple(sorted(s.labels.items())): s.value for s in calls.samples}
    assert by_labels[(("error_type", "NOT_FOUND"), ("gen_ai_tool_name", "orders__get_order"),
                      ("switchboard_component", "host"))] == 1  # fmt: skip
    assert by_labels[(("gen_ai_tool_name", "get_order"), ("switchboard_component", "server:orders"))] == 1
    latency = families["switchboard_tool_call_duration_seconds"]
    assert latency.type == "histogram"
    buckets = [s for s in latency.samples if s.name.endswith("_bucket") and s.labels.get("error_type") == "NOT_FOUND"]
    assert {s.labels["le"]: s.value for s in buckets}["0.1"] == 0  # 0.2 s lands above 0.1 ...
    assert {s.labels["le"]: s.value for s in buckets}["0.25"] == 1  # ... and in the 0.25 bucket
    pending = families["switchboard_kb_vectors_pending"]
    assert [(s.labels, s.value) for s in pending.samples] == [({"switchboard_org_id": "demo"}, 7.0)]


def test_shutdown_turns_everything_off(captured):
    assert telemetry.ON and telemetry.tracer() is not None
    telemetry.shutdown()
    assert not telemetry.ON and telemetry.tracer() is None and telemetry.prometheus_text() is None
    telemetry.record_tool_call("host", "x", 0.1, None)  # a no-op, not an error


@pytest.mark.parametrize(
    "raw",
    ["900101-1234567", "4111-1111-1111-1111", "010-1234-5678", "kim.minsu@example.com", "110-123-456789", "a b c"],
)
def test_ids_that_could_be_personal_data_are_hashed(raw):
    safe = telemetry.safe_id(raw)
    assert safe.startswith("h:") and raw not in safe and len(safe) == 18
    assert telemetry.safe_id(raw) == safe  # stable, so one session's spans still group


def test_plain_ids_are_kept():
    for value in ("cust-7", "orders__get_order", "9f1c2d3e-aaaa-bbbb-cccc-123456789abc", "cs-agent"):
        assert telemetry.safe_id(value) == value


def test_child_processes_get_otel_settings_but_their_own_service_name():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "switchboard-host", "PATH": "/bin"}
    assert telemetry.child_env(env) == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}


def test_host_metrics_off_says_how_to_turn_them_on(monkeypatch):
    """A scale-out walk: `curl http://127.0.0.1:8770/metrics` on a worker started without
    SWITCHBOARD_METRICS answered a bare "Not Found"."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from host.telemetry import observability_routes

    monkeypatch.setattr(telemetry, "configure_from_env", lambda *args, **kwargs: False)  # as with no variable set
    monkeypatch.setattr(telemetry, "prometheus_text", lambda: None)
    with TestClient(Starlette(routes=observability_routes())) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "SWITCHBOARD_METRICS=1" in response.json()["detail"]
