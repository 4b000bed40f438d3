"""Traces: a request's span has the SQL it ran as children and the request id as attribute."""

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.tracing import REQUEST_ID_ATTRIBUTE, install_tracing, uninstall_tracing
from app.main import create_app
from tests.conftest import committed_member, make_settings, truncate_all


async def test_off_without_an_endpoint():
    app = create_app(make_settings())
    assert app.state.tracer_provider is None
    await app.state.engine.dispose()


async def test_a_request_span_holds_its_database_spans_and_request_id(engine):
    app = create_app(make_settings())
    exporter = InMemorySpanExporter()
    provider = install_tracing(
        app, app.state.engine, app.state.settings, processor=SimpleSpanProcessor(exporter)
    )
    assert provider is not None
    try:
        _, headers = await committed_member(app, engine, "member")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(
                "/api/v1/me", headers={**headers, "X-Request-ID": "trace-me-0001"}
            )
        assert response.status_code == 200
    finally:
        uninstall_tracing(app, provider)
        await app.state.engine.dispose()
        await truncate_all(engine)
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind.name == "SERVER"]
    assert server.name == "GET /api/v1/me"
    assert server.attributes[REQUEST_ID_ATTRIBUTE] == "trace-me-0001"
    assert server.attributes["http.status_code"] == 200
    # The statements (a pool's "connect" span may belong to whoever opened the connection).
    queries = [s for s in spans if s.attributes.get("db.statement")]
    assert queries, [s.name for s in spans]
    assert all(q.context.trace_id == server.context.trace_id for q in queries)
    # Each database span descends from the request's span.
    by_id = {s.context.span_id: s for s in spans}
    for query in queries:
        parent = query.parent
        while parent is not None and parent.span_id != server.context.span_id:
            parent = by_id[parent.span_id].parent
        assert parent is not None, query.name
