"""Webhook deliveries: fan an event out to the subscriptions that want it, sign and POST it."""

import time
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.delivery import Job, Outcome, Target
from app.core.http import BlockedAddress
from app.core.outbox import CATALOGUE
from app.models.outbox import OutboxEvent
from app.models.webhook import DeliveryChannel, WebhookSubscription
from app.webhooks import repository, signing
from app.webhooks.events import PING
from app.webhooks.payloads import body_of
from app.webhooks.retry import parse_retry_after

EXCERPT_CHARS = 1000


def active_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during a rotation."""
    secrets = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > now:
        secrets.append(subscription.previous_secret)
    return secrets


def message_id(event: OutboxEvent) -> str:
    # The event id: stable across retries, redeliveries and workers, so receivers dedupe on it.
    return f"msg_{event.id.hex}"


class WebhookChannel:
    name = DeliveryChannel.webhook

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def targets(
        self, session: AsyncSession, events: list[OutboxEvent]
    ) -> list[tuple[OutboxEvent, Target]]:
        subscriptions = await repository.enabled_subscriptions(session)
        return [
            (event, Target(subscription_id=s.id))
            for event in events
            for s in subscriptions
            if event.type != PING.name
            and not CATALOGUE.is_internal(event.type)
            and (not s.event_types or event.type in s.event_types)
        ]

    async def deliver(self, job: Job) -> Outcome:
        subscription = job.subscription
        if subscription is None or not subscription.enabled:
            return Outcome(succeeded=False, error="subscription disabled", retry=False)
        now = datetime.now(UTC)
        body = body_of(job.event)
        headers = signing.headers_for(
            active_secrets(subscription, now), message_id(job.event), int(now.timestamp()), body
        )
        started = time.perf_counter()
        try:
            response = await self.client.post(subscription.url, content=body, headers=headers)
        except BlockedAddress as exc:
            return Outcome(succeeded=False, error=f"blocked: {exc}", latency_ms=_ms(started))
        except httpx.TimeoutException:
            return Outcome(succeeded=False, error="timeout", latency_ms=_ms(started))
        except httpx.HTTPError as exc:
            return Outcome(
                succeeded=False,
                error=f"{type(exc).__name__}: {exc}"[:500],
                latency_ms=_ms(started),
            )
        code = response.status_code
        outcome = Outcome(
            succeeded=200 <= code < 300,
            status_code=code,
            latency_ms=_ms(started),
            response_excerpt=response.text[:EXCERPT_CHARS],
        )
        if not outcome.succeeded:
            outcome.error = f"HTTP {code}"
            if code == 410:
                outcome.gone, outcome.retry = True, False
            elif code in (429, 503):
                outcome.retry_after = parse_retry_after(response.headers.get("retry-after"))
        return outcome


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
