"""A tiny OTLP/HTTP collector on loopback: decodes the protobuf trace exports a process sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class Collector:
    def __init__(self) -> None:
        self.spans: list[Any] = []  # opentelemetry.proto.trace.v1.trace_pb2.Span
        self.resources: list[dict[str, str]] = []
        self.metric_posts = 0
        self.url = ""

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[Any]:
        """The spans once ``predicate(spans)`` holds (polls; fails after ``timeout`` s)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self.spans):
            if asyncio.get_running_loop().time() > deadline:
                names = [s.name for s in self.spans]
                raise AssertionError(f"the collector did not get the spans in {timeout} s: {names}")
            await asyncio.sleep(0.05)
        return self.spans


@asynccontextmanager
async def otlp_collector() -> AsyncIterator[Collector]:
    import uvicorn
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    collector = Collector()

    async def traces(request: Request) -> Response:
        body = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in body.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            collector.resources.append(attrs)
            for scope in resource_spans.scope_spans:
                collector.spans.extend(scope.spans)
        return Response(b"", media_type="application/x-protobuf")

    async def metrics(request: Request) -> Response:
        await request.body()
        collector.metric_posts += 1
        return Response(b"", media_type="application/x-protobuf")

    routes = [Route("/v1/traces", traces, methods=["POST"]), Route("/v1/metrics", metrics, methods=["POST"])]
    app = Starlette(routes=routes)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    collector.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield collector
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
