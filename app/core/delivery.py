"""What a delivery channel is: who wants an event (fan-out) and how one delivery is made.

The worker owns claiming, leases, retries and the attempt log; a channel only answers these
two questions. Webhooks, e-mail and the CRM sync are channels.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.outbox import OutboxEvent
from app.models.webhook import Delivery, DeliveryChannel, WebhookSubscription


@dataclass(frozen=True)
class Target:
    """One destination of an event: a subscription (webhooks) or a member (e-mail), or
    neither (the CRM, which has one destination)."""

    subscription_id: uuid.UUID | None = None
    recipient_id: uuid.UUID | None = None


@dataclass
class Outcome:
    """The result of one attempt. ``retry`` False means the delivery is over either way."""

    succeeded: bool
    status_code: int | None = None
    latency_ms: int = 0
    response_excerpt: str = ""
    error: str | None = None
    retry: bool = True
    retry_after: timedelta | None = None
    # The receiver asked never to be called again (HTTP 410).
    gone: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """Everything a channel needs to make one attempt, loaded before the lease is taken."""

    delivery: Delivery
    event: OutboxEvent
    subscription: WebhookSubscription | None


class Channel(Protocol):
    name: DeliveryChannel

    async def targets(
        self, session: AsyncSession, events: list[OutboxEvent]
    ) -> list[tuple[OutboxEvent, Target]]:
        """The destinations of a batch of events (one query per batch, not per event)."""
        ...

    async def deliver(self, job: Job) -> Outcome: ...
