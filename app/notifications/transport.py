"""How an e-mail leaves: SMTP in production, the log in development."""

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from app.core.config import Environment, Settings

logger = logging.getLogger("app.notifications")


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): retrying cannot help."""


class TemporaryMailError(Exception):
    """The server or the network failed for now (4xx, connection): try again later."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass
class ConsoleTransport:
    """Writes e-mails to the log, for development. With ``redact`` (production) only that a
    message of that subject went out is logged: an address and a body hold personal data and
    one-time links, and logs are read by more people than mailboxes."""

    redact: bool = False

    async def send(self, message: EmailMessage) -> None:
        if self.redact:
            logger.info("e-mail not sent (console transport): %s", message["Subject"])
            return
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        logger.info("e-mail to %s: %s\n%s", message["To"], message["Subject"], text)


@dataclass
class SmtpTransport:
    settings: Settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls and not s.smtp_implicit_tls,
                use_tls=s.smtp_implicit_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPNotSupported as exc:
            # The server lacks an extension the message needs (SMTPUTF8 for a non-ASCII
            # address): that server will not take it later either.
            raise PermanentMailError(f"SMTP server: {exc}"[:300]) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused ({codes})") from exc
            raise TemporaryMailError(f"recipient deferred ({codes})") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentMailError(f"SMTP {exc.code}: {exc.message}"[:300]) from exc
            raise TemporaryMailError(f"SMTP {exc.code}: {exc.message}"[:300]) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryMailError(f"{type(exc).__name__}: {exc}"[:300]) from exc


def transport_for(settings: Settings) -> MailTransport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings)
    return ConsoleTransport(redact=settings.environment == Environment.production)
