import random

import pytest
from standardwebhooks import Webhook

from app.webhooks.channel import WebhookChannel
from app.worker.relay import Worker
from tests.conftest import make_settings


@pytest.fixture
def worker(app, webhook_client) -> Worker:
    """A worker on the test's transaction: one attempt at a time, because the test's
    sessions share one connection."""
    settings = make_settings(worker_concurrency=1, webhook_timeout_seconds=2.0)
    return Worker(
        app.state.sessionmaker, settings, [WebhookChannel(webhook_client)], rng=random.Random(7)
    )


def verify(secret: str, arrival) -> dict:
    """Check a delivery with the reference Standard Webhooks implementation."""
    return Webhook(secret).verify(arrival.body, arrival.headers)
