"""With an OTLP endpoint configured, spans leave the process over OTLP/HTTP."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from chassis.telemetry import span_exporter


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, int]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self.received.append((self.path, self.headers.get("Content-Type", ""), length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> str:
    # A daemon thread: it ends with the test process.
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_spans_are_exported_to_the_configured_endpoint(collector: str) -> None:
    exporter = span_exporter(collector)
    assert exporter is not None
    # A provider of the test's own: the process-wide one must not keep this exporter.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("checkout"):
        pass
    assert provider.force_flush(timeout_millis=10_000)
    provider.shutdown()
    assert any(
        path == "/v1/traces" and content_type == "application/x-protobuf" and size > 0
        for path, content_type, size in _Collector.received
    )
