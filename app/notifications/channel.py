"""The e-mail channel of the outbox relay: one delivery per (event, recipient)."""

import uuid
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.delivery import Job, Outcome, Target
from app.models.member import Language, Member
from app.models.outbox import OutboxEvent
from app.models.webhook import DeliveryChannel
from app.notifications import repository
from app.notifications.notices import Notice, notice_for
from app.notifications.transport import MailTransport, PermanentMailError, TemporaryMailError


def render(
    notice: Notice,
    member: Member,
    context: dict[str, str],
    settings: Settings,
    delivery_id: uuid.UUID,
) -> EmailMessage:
    language = Language(member.language) if member.language in set(Language) else Language.ru
    values = {"name": member.full_name or member.email, **context}
    # An address with a non-ASCII local part (anna.müller@…, which signup accepts) can only
    # travel raw in UTF-8 (SMTPUTF8, RFC 6531): the message is built with that policy and the
    # SMTP client then asks the server for the extension. ASCII addresses keep the default.
    message = EmailMessage(policy=policy.default if member.email.isascii() else policy.SMTPUTF8)
    message["From"] = settings.mail_from
    username, _, domain = member.email.rpartition("@")
    message["To"] = Address(display_name=member.full_name, username=username, domain=domain)
    message["Subject"] = notice.subject[language].format_map(values)
    message["Date"] = formatdate(localtime=False)
    # Stable across retries, so a mail server or client can drop a duplicate.
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{delivery_id.hex}@{domain}>"
    message.set_content(notice.body[language].format_map(values))
    message["Content-Language"] = language.value  # after set_content, which resets Content-*
    return message


class EmailChannel:
    name = DeliveryChannel.email

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: MailTransport,
    ):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.transport = transport

    async def targets(
        self, session: AsyncSession, events: list[OutboxEvent]
    ) -> list[tuple[OutboxEvent, Target]]:
        targets = []
        for event in events:
            notice = notice_for(event.type, event.data)
            if notice is not None:
                for member_id in await notice.recipients(session, event):
                    targets.append((event, Target(recipient_id=member_id)))
        return targets

    async def deliver(self, job: Job) -> Outcome:
        notice = notice_for(job.event.type, job.event.data)
        if notice is None or job.delivery.recipient_id is None:
            return Outcome(succeeded=False, error="no notice for this event", retry=False)
        async with self.sessionmaker() as session:
            member = await repository.recipient(session, job.delivery.recipient_id)
            if member is None:
                return Outcome(succeeded=False, error="recipient erased", retry=False)
            context = await notice.context(session, job.event, self.settings)
        if context is None:
            return Outcome(succeeded=True, details={"skipped": "no longer relevant"})
        message = render(notice, member, context, self.settings, job.delivery.id)
        try:
            await self.transport.send(message)
        except PermanentMailError as exc:
            return Outcome(succeeded=False, error=str(exc)[:500], retry=False)
        except TemporaryMailError as exc:
            return Outcome(succeeded=False, error=str(exc)[:500])
        return Outcome(succeeded=True)
