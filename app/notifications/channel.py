"""The e-mail channel of the outbox relay: one delivery per (event, recipient)."""

import uuid
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.delivery import Job, Outcome, Target
from app.members import service as members_service
from app.models.member import Language, Member
from app.models.notification import NextEventGuest, NotificationKind
from app.models.outbox import OutboxEvent
from app.models.webhook import DeliveryChannel
from app.notifications import repository
from app.notifications.notices import Notice, notice_for
from app.notifications.templating import render as render_template
from app.notifications.transport import MailTransport, PermanentMailError, TemporaryMailError
from app.registrations import service as registrations_service

KIND_LABELS = {
    Language.ru: {
        NotificationKind.reminders: "напоминания о встречах",
        NotificationKind.next_event: "анонсы следующих встреч",
        NotificationKind.messages: "сообщения организаторов",
        NotificationKind.surveys: "опросы",
    },
    Language.en: {
        NotificationKind.reminders: "meeting reminders",
        NotificationKind.next_event: "next-meeting notices",
        NotificationKind.messages: "organisers' messages",
        NotificationKind.surveys: "surveys",
    },
}


# Who an e-mail goes to: a member, or a guest without an account on the next-meeting list.
Addressee = Member | NextEventGuest


def language_of(member: Addressee) -> Language:
    return Language(member.language) if member.language in set(Language) else Language.ru


def _unsubscribe_links(
    settings: Settings, member: Addressee, kind: NotificationKind
) -> tuple[str, str]:
    """(the one-click API link, the web app's page) that turn this kind off for the person: a
    member's preference, or a guest's place on the list."""
    api, web = settings.public_api_url.rstrip("/"), settings.web_app_url.rstrip("/")
    if isinstance(member, NextEventGuest):
        token = quote(registrations_service.guest_unsubscribe_token(settings, member.id))
        return (
            f"{api}/api/v1/public/next-event-notice/unsubscribe?token={token}",
            f"{web}/next-meeting/unsubscribe?token={token}",
        )
    token = quote(members_service.unsubscribe_token(settings, member.id, kind))
    return (
        f"{api}/api/v1/notifications/unsubscribe?token={token}",
        f"{web}/unsubscribe?token={token}",
    )


def render(
    notice: Notice,
    member: Addressee,
    context: dict[str, Any],
    settings: Settings,
    delivery_id: uuid.UUID,
) -> EmailMessage:
    language = language_of(member)
    values = dict(context)
    ics: bytes | None = values.pop("calendar", None)
    unsubscribe_api = None
    values |= {"name": member.full_name or member.email, "unsubscribe_url": None, "kind_label": ""}
    if notice.kind != NotificationKind.transactional:
        unsubscribe_api, values["unsubscribe_url"] = _unsubscribe_links(
            settings, member, notice.kind
        )
        values["kind_label"] = KIND_LABELS[language][notice.kind]
    rendered = render_template(notice.template, language, values)
    # An address with a non-ASCII local part (anna.müller@…, which signup accepts) can only
    # travel raw in UTF-8 (SMTPUTF8, RFC 6531): the message is built with that policy and the
    # SMTP client then asks the server for the extension. ASCII addresses keep the default.
    message = EmailMessage(policy=policy.default if member.email.isascii() else policy.SMTPUTF8)
    message["From"] = settings.mail_from
    username, _, domain = member.email.rpartition("@")
    message["To"] = Address(display_name=member.full_name or "", username=username, domain=domain)
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    # Stable across retries, so a mail server or client can drop a duplicate.
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{delivery_id.hex}@{domain}>"
    if unsubscribe_api is not None:
        # RFC 8058: the mail program POSTs "List-Unsubscribe=One-Click" to the link itself.
        message["List-Unsubscribe"] = f"<{unsubscribe_api}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if ics is not None:
        method = "CANCEL" if b"METHOD:CANCEL" in ics else "REQUEST"
        message.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": method},
        )
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
                members = await notice.recipients(session, event)
                # Whoever turned this kind off gets no delivery at all.
                muted = await members_service.muting(session, members, notice.kind)
                for member_id in members:
                    if member_id not in muted:
                        targets.append((event, Target(recipient_id=member_id)))
        return targets

    async def deliver(self, job: Job) -> Outcome:
        notice = notice_for(job.event.type, job.event.data)
        if notice is None or job.delivery.recipient_id is None:
            return Outcome(succeeded=False, error="no notice for this event", retry=False)
        async with self.sessionmaker() as session:
            member: Addressee | None = await repository.recipient(
                session, job.delivery.recipient_id
            )
            if member is None and notice.guests:
                member = await registrations_service.next_event_guest(
                    session, job.delivery.recipient_id
                )
                if member is None:  # off the list since the fan-out
                    return Outcome(succeeded=True, details={"skipped": "unsubscribed"})
            if member is None:
                return Outcome(succeeded=False, error="recipient erased", retry=False)
            # Turned off since the fan-out: not sent after all.
            if await members_service.muting(session, [member.id], notice.kind):
                return Outcome(succeeded=True, details={"skipped": "unsubscribed"})
            context = await notice.context(session, job.event, self.settings, member)
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
