"""OpenTelemetry tracing and the Prometheus registry, set up once per process."""

from __future__ import annotations

import functools
import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

log = logging.getLogger(__name__)

TRACER_NAME = "chassis"


def span_exporter(otlp_endpoint: str | None) -> SpanExporter | None:
    """The OTLP/HTTP exporter for ``otlp_endpoint`` (a collector's base URL), if one is set."""
    if not otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")


def setup_tracing(
    service: str, otlp_endpoint: str | None, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install the process's tracer provider.

    Spans are always created (so trace ids reach the logs and Kafka headers); they leave
    the process only when an OTLP endpoint is configured or an exporter is passed in.
    """
    exporter = exporter or span_exporter(otlp_endpoint)
    if otlp_endpoint and exporter is not None:
        log.info("exporting traces over OTLP", extra={"endpoint": otlp_endpoint})
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # A second setup in one process (tests) adds to the installed provider.
        if exporter is not None:
            current.add_span_processor(BatchSpanProcessor(exporter))
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


@functools.cache
def tracer() -> trace.Tracer:
    # Made once: get_tracer builds a new tracer on every call. Before setup it is a proxy
    # that follows the provider installed later, so caching it early is safe.
    return trace.get_tracer(TRACER_NAME)
