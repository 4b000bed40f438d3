"""Event types of the webhook system itself."""

from datetime import datetime

from app.core.outbox import EventData, define_event


class SubscriptionDisabledData(EventData):
    reason: str
    failing_since: datetime | None


SUBSCRIPTION_DISABLED = define_event(
    "webhook_subscription.disabled",
    subject_type="webhook_subscription",
    data=SubscriptionDisabledData,
    description="A subscription was disabled: its receiver answered 410 (reason `gone`) or "
    "failed without a success for days (reason `failing`). Admins are notified by e-mail.",
)


class PingData(EventData):
    pass


PING = define_event(
    "webhook.ping",
    subject_type="webhook_subscription",
    data=PingData,
    description="Sent on demand to one subscription to test its receiver; `id` is the "
    "subscription.",
)
