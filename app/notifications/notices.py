"""Which events e-mail whom, and what the e-mail says, in Russian and in English.

A notice names an event type, finds the recipients (member ids) when the event is fanned
out, and builds the text when the e-mail is sent, from the state at that moment. Texts are
plain: values are inserted with ``str.format_map`` and never interpreted.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models.member import Language, Role
from app.models.outbox import OutboxEvent
from app.notifications import repository
from app.webhooks.events import SUBSCRIPTION_DISABLED

Recipients = Callable[[AsyncSession, OutboxEvent], Awaitable[list[uuid.UUID]]]
# None means: nothing to say any more (the state changed since the event).
Context = Callable[[AsyncSession, OutboxEvent, Settings], Awaitable[dict[str, str] | None]]


@dataclass(frozen=True)
class Notice:
    event_type: str
    recipients: Recipients
    context: Context
    subject: dict[Language, str]
    body: dict[Language, str]


async def _admins(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return await repository.members_with_role(session, Role.admin)


async def _subscription_disabled(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    url = await repository.subscription_url(session, event.subject_id)
    if url is None:
        return None
    return {"url": url, "reason": str(event.data.get("reason", "")),
            "subscription_id": str(event.subject_id)}


SUBSCRIPTION_DISABLED_NOTICE = Notice(
    event_type=SUBSCRIPTION_DISABLED.name,
    recipients=_admins,
    context=_subscription_disabled,
    subject={
        Language.ru: "Вебхук отключён: {url}",
        Language.en: "Webhook disabled: {url}",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Подписка на вебхуки {subscription_id} ({url}) отключена. Причина: {reason} "
            "(gone: получатель ответил 410; failing: доставки не проходят несколько дней).\n\n"
            "Проверьте получателя, включите подписку снова и повторите неудачные доставки "
            "(POST /api/v1/webhooks/{subscription_id}/redeliver-failed).\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "Webhook subscription {subscription_id} ({url}) was disabled. Reason: {reason} "
            "(gone: the receiver answered 410; failing: deliveries failed for days).\n\n"
            "Check the receiver, enable the subscription again and redeliver what failed "
            "(POST /api/v1/webhooks/{subscription_id}/redeliver-failed).\n"
        ),
    },
)

NOTICES: dict[str, Notice] = {
    notice.event_type: notice for notice in (SUBSCRIPTION_DISABLED_NOTICE,)
}
