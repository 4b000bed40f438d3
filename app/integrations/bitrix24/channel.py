"""The CRM channel of the outbox relay: events about a person bring their contact in line,
events about an application its lead, events about a registration its deal.

One delivery per event; the sync reads the member (or application) as it is when it runs, so
duplicates and reordering do no harm, and an unchanged member costs no CRM request. The
worker owns the retries: a ``Bitrix24RetryLater`` becomes a retry no sooner than the portal
allows, any other Bitrix24 error fails the delivery where admins can see and redeliver it.
"""

import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.applications import events as application_events
from app.auth import events as account_events
from app.core.delivery import Job, Outcome, Target
from app.integrations.bitrix24 import service
from app.integrations.bitrix24.client import Bitrix24Client, Bitrix24Error, Bitrix24RetryLater
from app.members import events as member_events
from app.models.outbox import OutboxEvent
from app.models.webhook import DeliveryChannel
from app.registrations import events as registration_events

logger = logging.getLogger("app.integrations.bitrix24")

# Events after which a person's contact may differ from what the CRM holds.
MEMBER_EVENTS = frozenset(
    {
        account_events.MEMBER_CREATED.name,
        member_events.MEMBER_UPDATED.name,
        member_events.MEMBER_STATUS_CHANGED.name,
        member_events.MEMBER_ROLES_CHANGED.name,
        member_events.MEMBER_ERASED.name,
    }
)
# Events that move a registration's deal to another stage.
REGISTRATION_EVENTS = frozenset(
    {
        registration_events.CREATED.name,
        registration_events.CONFIRMED.name,
        registration_events.WAITLISTED.name,
        registration_events.OFFERED.name,
        registration_events.CANCELLED.name,
        registration_events.CHECKED_IN.name,
        registration_events.NO_SHOW.name,
    }
)
# Events that move an application's lead (approval also fills the member's profile).
APPLICATION_EVENTS = frozenset(
    {
        application_events.SUBMITTED.name,
        application_events.DECIDED.name,
        application_events.WITHDRAWN.name,
    }
)


class CrmChannel:
    name = DeliveryChannel.crm

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: Bitrix24Client,
        lead_statuses: Mapping[str, str],
        deal_stages: Mapping[str, str],
    ):
        self.sessionmaker = sessionmaker
        self.client = client
        self.lead_statuses = lead_statuses
        self.deal_stages = deal_stages

    async def targets(
        self, session: AsyncSession, events: list[OutboxEvent]
    ) -> list[tuple[OutboxEvent, Target]]:
        return [
            (event, Target())
            for event in events
            if event.type in MEMBER_EVENTS
            or event.type in APPLICATION_EVENTS
            or event.type in REGISTRATION_EVENTS
        ]

    async def deliver(self, job: Job) -> Outcome:
        event = job.event
        async with self.sessionmaker() as session:
            try:
                if event.type in APPLICATION_EVENTS:
                    outcome = await service.sync_application(
                        session, self.client, event.subject_id, self.lead_statuses
                    )
                elif event.type in REGISTRATION_EVENTS:
                    outcome = await service.sync_registration(
                        session, self.client, event.subject_id, self.deal_stages
                    )
                else:
                    outcome = await service.sync_member(session, self.client, event.subject_id)
                    if event.type == member_events.MEMBER_ERASED.name:
                        await service.erase_records_of(
                            session,
                            self.client,
                            event.subject_id,
                            self.lead_statuses,
                            self.deal_stages,
                        )
                await session.commit()
            except Bitrix24RetryLater as exc:
                return Outcome(
                    succeeded=False,
                    error=str(exc)[:500],
                    retry_after=timedelta(seconds=exc.retry_after),
                )
            except Bitrix24Error as exc:
                # Once, as it ends for good: the subject's id, never a name or an address.
                logger.warning(
                    "bitrix24 sync of %s %s failed: %s",
                    event.subject_type,
                    event.subject_id,
                    exc.summary,
                )
                return Outcome(succeeded=False, error=exc.summary[:500], retry=False)
        return Outcome(succeeded=True, details={"outcome": str(outcome)})
