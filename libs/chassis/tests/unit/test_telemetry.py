"""With an OTLP endpoint configured, spans leave the process over OTLP/HTTP."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from opentelemetry import trace

from chassis.telemetry import setup_tracing


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
    # Left running (a daemon thread) on purpose: the process's tracer provider keeps this
    # exporter and flushes to it once more at exit.
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_spans_are_exported_to_the_configured_endpoint(collector: str) -> None:
    provider = setup_tracing("billing", collector)
    with trace.get_tracer("test").start_as_current_span("checkout"):
        pass
    assert provider.force_flush(timeout_millis=10_000)
    assert any(
        path == "/v1/traces" and content_type == "application/x-protobuf" and size > 0
        for path, content_type, size in _Collector.received
    )
