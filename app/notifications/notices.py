"""Which events e-mail whom, and what the e-mail says, in Russian and in English.

A notice names an event type, finds the recipients (member ids) when the event is fanned
out, and builds the text when the e-mail is sent, from the state at that moment. Texts are
plain: values are inserted with ``str.format_map`` and never interpreted.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import events as application_events
from app.applications import service as application_service
from app.auth import events as account_events
from app.auth import links
from app.core.config import Settings
from app.models.member import Language, Member, Role
from app.models.outbox import OutboxEvent
from app.models.registration import RegistrationStatus
from app.models.token import LinkPurpose
from app.notifications import repository
from app.registrations import events as registration_events
from app.registrations import service as registrations_service
from app.surveys import events as survey_events
from app.surveys import service as surveys_service
from app.tables import events as seating_events
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
    # Which events of the type this notice is for (e.g. only approvals), judged on the data.
    applies: Callable[[dict[str, object]], bool] = lambda data: True


async def _admins(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return await repository.members_with_role(session, Role.admin)


async def _subscription_disabled(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    url = await repository.subscription_url(session, event.subject_id)
    if url is None:
        return None
    return {
        "url": url,
        "reason": str(event.data.get("reason", "")),
        "subscription_id": str(event.subject_id),
    }


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


async def _applicant(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    member_id = await application_service.owner_of(session, event.subject_id)
    return [member_id] if member_id else []


async def _decision(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    decision = await repository.application_decision(session, event.subject_id)
    # A decision changed since (an admin overrode the rule): only the current one is told.
    if decision is None or decision[0] != event.data.get("status"):
        return None
    return {"reason": decision[1] or "", "web_app_url": settings.web_app_url}


async def _welcome(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    # Someone approved without a password yet (imported) is welcomed by the invitation sent
    # with the approval, which carries their set-password link: one e-mail, not two.
    member_id = await application_service.owner_of(session, event.subject_id)
    member = await session.get(Member, member_id) if member_id else None
    if member is None or member.password_hash is None:
        return None
    return await _decision(session, event, settings)


def _decided(status: str) -> Callable[[dict[str, object]], bool]:
    return lambda data: data.get("status") == status


APPROVED_NOTICE = Notice(
    event_type=application_events.DECIDED.name,
    applies=_decided("approved"),
    recipients=_applicant,
    context=_welcome,
    subject={
        Language.ru: "Добро пожаловать в сообщество Digital Leaders",
        Language.en: "Welcome to the Digital Leaders community",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Экспертный совет одобрил вашу заявку: теперь вы участник сообщества. "
            "Войдите в сообщество, чтобы заполнить профиль и выбрать ближайшую встречу: "
            "{web_app_url}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "The expert council approved your application: you are now a member of the "
            "community. Sign in to complete your profile and pick your first meeting: "
            "{web_app_url}\n"
        ),
    },
)

REJECTED_NOTICE = Notice(
    event_type=application_events.DECIDED.name,
    applies=_decided("rejected"),
    recipients=_applicant,
    context=_decision,
    subject={
        Language.ru: "Решение по вашей заявке в Digital Leaders",
        Language.en: "The decision on your Digital Leaders application",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Спасибо за интерес к сообществу. Экспертный совет не смог одобрить заявку.\n"
            "Причина: {reason}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "Thank you for your interest in the community. The expert council could not "
            "approve your application.\nReason: {reason}\n"
        ),
    },
)

WAITLISTED_NOTICE = Notice(
    event_type=application_events.DECIDED.name,
    applies=_decided("waitlisted"),
    recipients=_applicant,
    context=_decision,
    subject={
        Language.ru: "Ваша заявка в листе ожидания",
        Language.en: "Your application is on the waiting list",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Экспертный совет поставил вашу заявку в лист ожидания. Мы напишем, как только "
            "сможем её принять.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "The expert council put your application on the waiting list. We will write as "
            "soon as we can accept it.\n"
        ),
    },
)


async def _registrant(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    member_id = await repository.registration_member(session, event.subject_id)
    return [member_id] if member_id else []


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else ""


async def _confirmation(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    found = await repository.registration_with_event(session, event.subject_id)
    # Already confirmed or cancelled by the time the e-mail goes: nothing to ask any more.
    if found is None or found[0].status != RegistrationStatus.pending_confirmation:
        return None
    registration, title, starts_at = found
    token = registrations_service.confirmation_link_token(settings, registration, datetime.now(UTC))
    return {
        "event": title,
        "starts_at": _when(starts_at),
        "link": f"{settings.web_app_url}/registrations/confirm?token={token}",
    }


async def _offer(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    found = await repository.registration_with_event(session, event.subject_id)
    if found is None or found[0].status != RegistrationStatus.offered:
        return None
    registration, title, starts_at = found
    return {
        "event": title,
        "starts_at": _when(starts_at),
        "expires_at": _when(registration.offer_expires_at),
        "link": f"{settings.web_app_url}/registrations/{registration.id}",
    }


CONFIRMATION_NOTICE = Notice(
    event_type=registration_events.CREATED.name,
    recipients=_registrant,
    context=_confirmation,
    subject={
        Language.ru: "Подтвердите участие: {event}",
        Language.en: "Confirm your place: {event}",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Вы зарегистрировались на встречу «{event}» ({starts_at}). Место закрепляется "
            "за вами после второго подтверждения: перейдите по ссылке.\n\n{link}\n\n"
            "Ссылка работает один раз.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            'You registered for "{event}" ({starts_at}). Your seat becomes firm with a '
            "second confirmation: follow the link.\n\n{link}\n\nThe link works once.\n"
        ),
    },
)

OFFER_NOTICE = Notice(
    event_type=registration_events.OFFERED.name,
    recipients=_registrant,
    context=_offer,
    subject={
        Language.ru: "Освободилось место: {event}",
        Language.en: "A seat is free for you: {event}",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "На встрече «{event}» ({starts_at}) освободилось место, и оно ваше, если вы "
            "подтвердите участие до {expires_at}:\n\n{link}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            'A seat at "{event}" ({starts_at}) is free and yours if you confirm by '
            "{expires_at}:\n\n{link}\n"
        ),
    },
)


async def _not_answered(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    # Read when the event is fanned out: whoever answered in the meantime is spared.
    return await surveys_service.pending_invitees(session, event.subject_id)


async def _survey(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    found = await surveys_service.invitation(session, event.subject_id)
    if found is None:  # closed since: nothing to answer any more
        return None
    title, closes_at = found
    anonymous = bool(event.data.get("anonymous"))
    return {
        "survey": title,
        "closes_at": _when(closes_at) or "-",
        "link": f"{settings.web_app_url}/surveys/{event.subject_id}",
        "anonymity_ru": "Ответы анонимны: никто не увидит, кто что ответил."
        if anonymous
        else "Опрос не анонимный: ответы видны организаторам с вашим именем.",
        "anonymity_en": "Answers are anonymous: nobody can see who answered what."
        if anonymous
        else "This survey is not anonymous: organisers see your name.",
    }


SURVEY_INVITATION_NOTICE = Notice(
    event_type=survey_events.SURVEY_OPENED.name,
    recipients=_not_answered,
    context=_survey,
    subject={
        Language.ru: "Пара минут вашего мнения: {survey}",
        Language.en: "Two minutes of your opinion: {survey}",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Пожалуйста, ответьте на опрос «{survey}» — это займёт пару минут. "
            "Приём ответов до {closes_at}.\n{anonymity_ru}\n\n{link}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            'Please answer the survey "{survey}": it takes two minutes. Answers are taken '
            "until {closes_at}.\n{anonymity_en}\n\n{link}\n"
        ),
    },
)

SURVEY_REMINDER_NOTICE = Notice(
    event_type=survey_events.SURVEY_REMINDED.name,
    recipients=_not_answered,
    context=_survey,
    subject={
        Language.ru: "Напоминание: {survey}",
        Language.en: "A reminder: {survey}",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Мы ещё ждём ваш ответ на опрос «{survey}». Приём ответов до {closes_at}.\n"
            "{anonymity_ru}\n\n{link}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            'We are still hoping for your answer to "{survey}". Answers are taken until '
            "{closes_at}.\n{anonymity_en}\n\n{link}\n"
        ),
    },
)


async def _seated(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    # Read when the event is fanned out: a re-seating published since mails its own people.
    return await repository.seated_members(session, uuid.UUID(str(event.data["event_id"])))


async def _seating(
    session: AsyncSession, event: OutboxEvent, settings: Settings
) -> dict[str, str] | None:
    event_id = str(event.data["event_id"])
    found = await repository.event_title(session, uuid.UUID(event_id))
    if found is None:
        return None
    title, starts_at = found
    return {
        "event": title,
        "starts_at": _when(starts_at),
        "link": f"{settings.web_app_url}/events/{event_id}/my-table",
    }


SEATING_NOTICE = Notice(
    event_type=seating_events.SEATING_PUBLISHED.name,
    recipients=_seated,
    context=_seating,
    subject={
        Language.ru: "Ваш стол на встрече «{event}»",
        Language.en: 'Your table at "{event}"',
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Рассадка на встречу «{event}» ({starts_at}) готова: ваш стол, соседи по столу "
            "и модератор — по ссылке.\n\n{link}\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            'The seating for "{event}" ({starts_at}) is ready: your table, your '
            "table-mates and its facilitator are here.\n\n{link}\n"
        ),
    },
)


async def _account(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return [event.subject_id]


def _account_link(purpose: LinkPurpose) -> Context:
    async def context(
        session: AsyncSession, event: OutboxEvent, settings: Settings
    ) -> dict[str, str] | None:
        # The newest live link of the kind, made now: none (used, expired, or the address or
        # password changed since) means there is nothing to send any more.
        member = await session.get(Member, event.subject_id)
        if member is None:
            return None
        link = await links.newest_live(session, member, purpose, datetime.now(UTC))
        if link is None:
            return None
        return {"link": links.url_of(settings, link), "expires_at": _when(link.expires_at)}

    return context


VERIFICATION_NOTICE = Notice(
    event_type=account_events.VERIFICATION_REQUESTED.name,
    recipients=_account,
    context=_account_link(LinkPurpose.verify_email),
    subject={
        Language.ru: "Подтвердите адрес почты для Digital Leaders",
        Language.en: "Confirm your e-mail address for Digital Leaders",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Чтобы подтвердить, что этот адрес ваш, перейдите по ссылке:\n\n{link}\n\n"
            "Ссылка работает один раз, до {expires_at}. Если вы не регистрировались в "
            "Digital Leaders, просто удалите это письмо.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "To confirm that this address is yours, follow the link:\n\n{link}\n\n"
            "The link works once, until {expires_at}. If you did not sign up for Digital "
            "Leaders, just delete this e-mail.\n"
        ),
    },
)

SIGNUP_ATTEMPT_NOTICE = Notice(
    event_type=account_events.SIGNUP_ATTEMPTED.name,
    recipients=_account,
    context=_account_link(LinkPurpose.password_reset),
    subject={
        Language.ru: "Попытка регистрации с вашим адресом",
        Language.en: "Someone tried to sign up with your address",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Кто-то попробовал зарегистрироваться в Digital Leaders с вашим адресом почты, "
            "но у этого адреса уже есть учётная запись. Если это были вы и вы не помните "
            "пароль, задайте новый по ссылке:\n\n{link}\n\n"
            "Ссылка работает один раз, до {expires_at}. Если это были не вы, ничего делать "
            "не нужно: ваша учётная запись не изменилась.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "Someone tried to sign up for Digital Leaders with your e-mail address, which "
            "already has an account. If it was you and you forgot your password, set a new "
            "one here:\n\n{link}\n\n"
            "The link works once, until {expires_at}. If it was not you, there is nothing to "
            "do: your account has not changed.\n"
        ),
    },
)

INVITATION_NOTICE = Notice(
    event_type=account_events.INVITED.name,
    recipients=_account,
    context=_account_link(LinkPurpose.invitation),
    subject={
        Language.ru: "Ваше место в сообществе Digital Leaders: задайте пароль",
        Language.en: "Your place in the Digital Leaders community: set your password",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Для вас открыт доступ в сообщество Digital Leaders. Задайте пароль по ссылке — "
            "после этого вы сразу войдёте, сможете заполнить профиль и выбрать ближайшую "
            "встречу:\n\n{link}\n\n"
            "Ссылка работает один раз, до {expires_at}.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "Your access to the Digital Leaders community is ready. Set your password with "
            "this link: you are signed in at once, and can complete your profile and pick "
            "your first meeting:\n\n{link}\n\n"
            "The link works once, until {expires_at}.\n"
        ),
    },
)

PASSWORD_RESET_NOTICE = Notice(
    event_type=account_events.PASSWORD_RESET_REQUESTED.name,
    recipients=_account,
    context=_account_link(LinkPurpose.password_reset),
    subject={
        Language.ru: "Сброс пароля в Digital Leaders",
        Language.en: "Reset your Digital Leaders password",
    },
    body={
        Language.ru: (
            "Здравствуйте, {name}!\n\n"
            "Чтобы задать новый пароль, перейдите по ссылке:\n\n{link}\n\n"
            "Ссылка работает один раз, до {expires_at}. После смены пароля все входы и "
            "API-токены учётной записи перестанут действовать. Если вы не просили сброс, "
            "просто удалите это письмо.\n"
        ),
        Language.en: (
            "Hello {name},\n\n"
            "To set a new password, follow the link:\n\n{link}\n\n"
            "The link works once, until {expires_at}. Once the password is changed, every "
            "session and API token of the account stops working. If you did not ask for a "
            "reset, just delete this e-mail.\n"
        ),
    },
)

ALL_NOTICES = (
    VERIFICATION_NOTICE,
    SIGNUP_ATTEMPT_NOTICE,
    INVITATION_NOTICE,
    PASSWORD_RESET_NOTICE,
    SUBSCRIPTION_DISABLED_NOTICE,
    APPROVED_NOTICE,
    REJECTED_NOTICE,
    WAITLISTED_NOTICE,
    CONFIRMATION_NOTICE,
    OFFER_NOTICE,
    SURVEY_INVITATION_NOTICE,
    SURVEY_REMINDER_NOTICE,
    SEATING_NOTICE,
)


def notice_for(event_type: str, data: dict[str, object]) -> Notice | None:
    """The notice for this event, if it mails anyone (at most one applies to an event)."""
    return next((n for n in ALL_NOTICES if n.event_type == event_type and n.applies(data)), None)
