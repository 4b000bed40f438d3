"""Traces: OpenTelemetry for the requests, their SQL and their outbound HTTP, when an OTLP
endpoint is configured (off otherwise, at no cost).

The OpenTelemetry SDK and its instrumentations are the standard, vendor-neutral way: any
collector (Jaeger, Tempo, Honeycomb, an OpenTelemetry Collector) reads what they send, and
they follow the semantic conventions, which a home-made tracer would not.
"""

from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings

# Probes and scrapes would drown the requests that matter.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"
REQUEST_ID_ATTRIBUTE = "http.request.id"


def install_tracing(
    app: FastAPI | None,
    engine: AsyncEngine,
    settings: Settings,
    *,
    processor: SpanProcessor | None = None,
) -> TracerProvider | None:
    """Trace requests (when ``app`` is given; the worker has none), SQL and httpx calls when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (or a ``processor`` is given, as tests do). Returns
    the provider, to shut down at exit."""
    if processor is None:
        if not settings.otel_exporter_otlp_endpoint:
            return None
        processor = BatchSpanProcessor(_otlp_exporter())
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.otel_service_name}))
    provider.add_span_processor(processor)
    if app is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS
        )
    # The instrumentation declares SQLAlchemy < 2.1 but uses only the engine's cursor events,
    # which 2.1 keeps as they were; tests/core/test_tracing.py proves the spans still come.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    # Every httpx client (webhooks, Bitrix24, Timepad): a call to a partner is a child span.
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider


def _otlp_exporter() -> SpanExporter:
    # Imported here: only a process that exports loads the exporter and its protobuf code.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def uninstall_tracing(app: FastAPI | None, provider: TracerProvider) -> None:
    if app is not None:
        FastAPIInstrumentor.uninstrument_app(app)
    SQLAlchemyInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    provider.shutdown()


def tag_request(request_id: str) -> None:
    """Put the request id on the request's span, so a log line leads to its trace. Without
    tracing the current span records nothing and this costs a dictionary lookup."""
    span: Any = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
