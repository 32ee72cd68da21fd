"""OpenTelemetry for every Switchboard process: off unless asked for, nothing loaded while off.

Turned on by the standard variables or by ours:

- traces over OTLP/HTTP when ``OTEL_TRACES_EXPORTER=otlp`` or an OTLP endpoint is set
  (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``);
- metrics over OTLP/HTTP when ``OTEL_METRICS_EXPORTER=otlp`` or an OTLP endpoint is set;
- metrics on a Prometheus ``/metrics`` endpoint (host, HTTP servers) when ``SWITCHBOARD_METRICS=1``;
- ``OTEL_SDK_DISABLED=true`` wins over all of them.

While off, :data:`ON` is False and the instrumented code reads that one attribute and goes on:
no opentelemetry module is imported (``bench/telemetry.py`` measures it). The providers are
this module's own (not the global ones), so tests can configure in-memory exporters per run.

Attribute names follow the OpenTelemetry GenAI and MCP semantic conventions (``gen_ai.*``,
``mcp.*``, ``error.type``, ``db.*``). No attribute carries personal data: callers pass names,
codes and ids only, and :func:`safe_id` masks anything that is not a plain identifier.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

ON = False  # any signal on (traces or metrics)
TRACING = False
METRICS_ENV = "SWITCHBOARD_METRICS"
_TRUE = {"1", "true", "yes", "on"}
# seconds: from half a millisecond (an in-process call) to a minute (a slow model turn)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\Z")


class _State:
    def __init__(self) -> None:
        self.service = ""
        self.tracer: Any = None
        self.tracer_provider: Any = None
        self.meter_provider: Any = None
        self.instruments: Instruments | None = None
        self.prometheus: Any = None  # PrometheusBridge (core/prometheus.py) when /metrics is on
        self.refreshers: dict[Any, Callable[[], Awaitable[None]]] = {}
        self.refresh_every = 0.0  # seconds between background refreshes (OTLP metrics on), else 0
        self.refresh_task: Any = None
        self.gauges: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self.lock = threading.Lock()


_state = _State()


def wanted(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Which signals the environment asks for: ``{"traces", "otlp_metrics", "prometheus"}``."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return {"traces": False, "otlp_metrics": False, "prometheus": False}
    endpoint = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())

    def otlp(signal: str) -> bool:
        chosen = env.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower()
        if chosen:
            return "otlp" in chosen.split(",")
        return endpoint or bool(env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip())

    return {
        "traces": otlp("traces"),
        "otlp_metrics": otlp("metrics"),
        "prometheus": env.get(METRICS_ENV, "").strip().lower() in _TRUE,
    }


def configure_from_env(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Turn telemetry on as the environment asks (once per process); True when anything is on."""
    if ON:
        return True
    want = wanted(env)
    if not any(want.values()):
        return False
    span_exporter = None
    if want["traces"]:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    configure(service, span_exporter=span_exporter, otlp_metrics=want["otlp_metrics"], prometheus=want["prometheus"])
    atexit.register(shutdown)
    return True


def configure(
    service: str,
    *,
    span_exporter: Any = None,
    metric_readers: list[Any] | None = None,
    otlp_metrics: bool = False,
    prometheus: bool = False,
) -> None:
    """Turn telemetry on with these exporters (tests pass the SDK's in-memory ones, exported at
    once; an OTLP exporter is batched)."""
    global ON, TRACING
    from opentelemetry.sdk.resources import Resource

    shutdown()
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
    _state.service = service
    if span_exporter is not None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = TracerProvider(resource=resource)
        batch = type(span_exporter).__module__.startswith("opentelemetry.exporter.otlp")
        processor = BatchSpanProcessor(span_exporter) if batch else SimpleSpanProcessor(span_exporter)
        provider.add_span_processor(processor)
        _state.tracer_provider = provider
        _state.tracer = provider.get_tracer("switchboard")
        from core import dbtrace

        dbtrace.install()
    readers = list(metric_readers or [])
    if prometheus:
        from core.prometheus import PrometheusBridge

        _state.prometheus = PrometheusBridge()
        readers.append(_state.prometheus)
    if otlp_metrics:  # made just before its provider: its timer starts at once
        interval_ms = float(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") or 60_000)
        _state.refresh_every = max(interval_ms / 1000.0, 0.05)
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if readers:
        from opentelemetry.sdk.metrics import MeterProvider

        _state.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        _state.instruments = Instruments(_state.meter_provider.get_meter("switchboard"))
    TRACING = _state.tracer is not None
    ON = TRACING or _state.instruments is not None


def shutdown() -> None:
    """Flush and turn everything off (tests, process exit)."""
    global ON, TRACING
    ON = TRACING = False
    tracer_provider, meter_provider = _state.tracer_provider, _state.meter_provider
    if _state.refresh_task is not None:
        with contextlib.suppress(RuntimeError):  # its loop may be closed already
            _state.refresh_task.cancel()
    _state.__init__()
    for provider in (tracer_provider, meter_provider):
        if provider is not None:
            with contextlib.suppress(Exception):  # a collector out of reach at exit: nothing to do
                provider.shutdown()


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``OTEL_*`` variables a spawned server inherits (each process names its own service)."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k.startswith("OTEL_") and k != "OTEL_SERVICE_NAME"}


def tracer() -> Any:
    """The tracer, or None while tracing is off."""
    return _state.tracer


def instruments() -> Instruments | None:
    """The metric instruments, or None while metrics are off."""
    return _state.instruments


def prometheus_text() -> bytes | None:
    """The Prometheus exposition of every metric, or None when ``/metrics`` is off."""
    bridge = _state.prometheus
    return bridge.exposition() if bridge is not None else None


def safe_id(value: Any) -> str:
    """An identifier fit for an attribute: a plain id as is, anything else as a short hash."""
    text = str(value or "")
    if _SAFE.match(text) and not _looks_personal(text):
        return text
    import hashlib

    return "h:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _looks_personal(text: str) -> bool:
    from core.pii import contains_pii

    return contains_pii(text)


# gauges fed by refreshers ----------------------------------------------------------------------


def add_refresher(refresh: Callable[[], Awaitable[None]], key: Any = None) -> None:
    """An async function that updates gauges (:func:`set_gauge`); run before each scrape.
    One per ``key`` (default: the function itself), so a second registration replaces the first."""
    _state.refreshers[key if key is not None else refresh] = refresh


async def refresh() -> None:
    """Run the refreshers (a failing one keeps its last values)."""
    for fn in list(_state.refreshers.values()):
        try:
            await fn()
        except Exception:
            continue


def _start_refresh_task() -> None:
    """With OTLP metrics and no scraper, gauges are refreshed in the background (started by the
    first tool call, on its event loop)."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    every = _state.refresh_every

    async def run() -> None:
        while True:
            await refresh()
            await asyncio.sleep(every)

    _state.refresh_task = loop.create_task(run(), name="switchboard-telemetry-refresh")


def set_gauge(name: str, values: dict[tuple[tuple[str, str], ...], float]) -> None:
    """Replace the current values of gauge ``name`` (label tuple -> value)."""
    with _state.lock:
        _state.gauges[name] = dict(values)


def _observe(name: str) -> Callable[[Any], list[Any]]:
    def callback(options: Any) -> list[Any]:
        from opentelemetry.metrics import Observation

        with _state.lock:
            values = dict(_state.gauges.get(name, {}))
        return [Observation(value, dict(labels)) for labels, value in values.items()]

    return callback


class Instruments:
    """Every metric Switchboard records (names: docs/observability.md)."""

    def __init__(self, meter: Any) -> None:
        def seconds(name: str, description: str) -> Any:
            return meter.create_histogram(
                name, unit="s", description=description, explicit_bucket_boundaries_advisory=SECONDS_BUCKETS
            )

        def gauge(name: str, unit: str, description: str) -> None:
            meter.create_observable_gauge(name, callbacks=[_observe(name)], unit=unit, description=description)

        self.tool_calls = meter.create_counter(
            "switchboard.tool.calls", unit="{call}", description="Tool calls, by component, tool and error code"
        )
        self.tool_duration = seconds("switchboard.tool.call.duration", "Tool call latency, by component and tool")
        self.model = seconds("gen_ai.client.operation.duration", "Model calls (one turn step), by provider and model")
        self.mcp_client = seconds("mcp.client.operation.duration", "MCP requests as the host's client sees them")
        self.mcp_server = seconds("mcp.server.operation.duration", "MCP requests as the server sees them")
        self.confirmations = meter.create_counter(
            "switchboard.confirmations", unit="{reply}", description="Customer replies to a confirmation, by class"
        )
        self.escalations = meter.create_counter(
            "switchboard.escalations", unit="{session}", description="Sessions handed to a person, by source"
        )
        self.turns = seconds("switchboard.turn.duration", "Host turns, by status")
        self.audit_append = seconds(
            "switchboard.audit.append.duration",
            "Audit append lag: from asking for the append until the record is committed",
        )
        gauge("switchboard.audit.checkpoint.age", "s", "Seconds since each org's newest signed audit checkpoint")
        gauge("switchboard.kb.vectors.pending", "{chunk}", "KB chunks waiting for their semantic vector")


def record_tool_call(component: str, tool: str, seconds: float, error_code: str | None) -> None:
    """Count one tool call and its latency (``component``: ``host`` or ``server:<name>``)."""
    inst = _state.instruments
    if inst is None:
        return
    if _state.refresh_every and _state.refresh_task is None and _state.refreshers:
        _start_refresh_task()
    attrs = {"switchboard.component": component, "gen_ai.tool.name": tool}
    if error_code:
        attrs["error.type"] = error_code
    inst.tool_calls.add(1, attrs)
    inst.tool_duration.record(seconds, attrs)


def monotonic() -> float:
    return time.perf_counter()
