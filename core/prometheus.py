"""OpenTelemetry metrics as a Prometheus exposition (the ``/metrics`` endpoint's body).

A pull reader: each scrape collects the SDK's current (cumulative) points and writes them in
the Prometheus text format with ``prometheus_client``. Names follow the usual OTel→Prometheus
mapping: dots become underscores, a unit of seconds adds ``_seconds``, counters end ``_total``,
histograms give ``_bucket``/``_sum``/``_count``.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter, ObservableGauge, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    MetricReader,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramPoints

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def metric_name(name: str, unit: str | None) -> str:
    """``mcp.server.operation.duration`` + ``s`` → ``mcp_server_operation_duration_seconds``."""
    base = _INVALID.sub("_", name)
    suffix = _UNITS.get(unit or "")
    if suffix and not base.endswith("_" + suffix):
        base = f"{base}_{suffix}"
    return base


def label_name(key: str) -> str:
    return _INVALID.sub("_", key)


class PrometheusBridge(MetricReader):
    """A metric reader collected on demand, rendering Prometheus text."""

    def __init__(self) -> None:
        cumulative = AggregationTemporality.CUMULATIVE
        super().__init__(
            preferred_temporality={
                Counter: cumulative,
                UpDownCounter: cumulative,
                Histogram: cumulative,
                ObservableCounter: cumulative,
                ObservableGauge: cumulative,
            }
        )
        self._latest: MetricsData | None = None

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._latest = None

    def exposition(self) -> bytes:
        """The current metrics in the Prometheus text format (version 0.0.4)."""
        from prometheus_client.exposition import generate_latest

        self._latest = None
        self.collect()
        families = list(_families(self._latest))
        return generate_latest(_Registry(families))


class _Registry:
    """What ``generate_latest`` needs: something with ``collect()``."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> list[Any]:
        return self._families


def _labels(attributes: Any) -> dict[str, str]:
    return {label_name(k): str(v) for k, v in (attributes or {}).items()}


def _families(data: MetricsData | None) -> Any:
    from prometheus_client.metrics_core import Metric

    if data is None:
        return
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                name = metric_name(metric.name, metric.unit)
                doc = metric.description or metric.name
                points = metric.data
                if isinstance(points, Sum) and points.is_monotonic:
                    name = name.removesuffix("_total")
                    family = Metric(name, doc, "counter")
                    for p in points.data_points:
                        family.add_sample(name + "_total", _labels(p.attributes), p.value)
                elif isinstance(points, (Sum, Gauge)):
                    family = Metric(name, doc, "gauge")
                    for p in points.data_points:
                        family.add_sample(name, _labels(p.attributes), p.value)
                elif isinstance(points, HistogramPoints):
                    family = Metric(name, doc, "histogram")
                    for p in points.data_points:
                        labels = _labels(p.attributes)
                        running = 0
                        for bound, count in zip(p.explicit_bounds, p.bucket_counts, strict=False):
                            running += count
                            family.add_sample(name + "_bucket", {**labels, "le": _bound(bound)}, running)
                        family.add_sample(name + "_bucket", {**labels, "le": "+Inf"}, p.count)
                        family.add_sample(name + "_count", labels, p.count)
                        family.add_sample(name + "_sum", labels, p.sum)
                else:
                    continue
                yield family


def _bound(value: float) -> str:
    return repr(float(value))
