"""Telemetry turned on with the SDK's in-memory exporters for one test, and off again after."""

from __future__ import annotations

from typing import Any

import pytest


class Captured:
    def __init__(self, spans: Any, reader: Any) -> None:
        self.exporter = spans
        self.reader = reader

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` collected now."""
        data = self.reader.get_metrics_data()
        found = []
        for rm in data.resource_metrics if data else []:
            for scope in rm.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def captured():
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from core import telemetry

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry.configure("switchboard-test", span_exporter=exporter, metric_readers=[reader], prometheus=True)
    try:
        yield Captured(exporter, reader)
    finally:
        telemetry.shutdown()
