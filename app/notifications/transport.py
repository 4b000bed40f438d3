"""How an e-mail leaves: SMTP in production, the log in development."""

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from app.core.config import Settings

logger = logging.getLogger("app.notifications")


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): retrying cannot help."""


class TemporaryMailError(Exception):
    """The server or the network failed for now (4xx, connection): try again later."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class ConsoleTransport:
    async def send(self, message: EmailMessage) -> None:
        logger.info("e-mail to %s: %s\n%s", message["To"], message["Subject"],
                    message.get_content())


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
    return ConsoleTransport()
