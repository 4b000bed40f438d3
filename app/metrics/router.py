"""`GET /metrics`, outside the versioned API and its contract, mounted only when
DL_METRICS_ENABLED is true (a 404 otherwise, like any unknown path)."""

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.core.config import Settings
from app.core.errors import Unauthorized
from app.metrics import service

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus text format. With DL_METRICS_TOKEN set, only for its bearer."""
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token.get_secret_value()
    if expected:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            sent.encode(), expected.encode()
        ):
            raise Unauthorized("Send the metrics token as a bearer token.")
    # A read session, as for /readyz: on SQLite it does not queue behind writers.
    async with request.app.state.read_sessionmaker() as session:
        body = await service.scrape(session, settings)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
