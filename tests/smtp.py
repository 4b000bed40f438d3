"""A real SMTP server on the loopback address (aiosmtpd), keeping what arrives."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    # Recipients refused with this reply, e.g. "550 5.1.1 no such user".
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # An SMTPUTF8 message carries raw UTF-8 headers: parse it as text, or they come back as
        # surrogate escapes.
        message = (
            message_from_string(envelope.content.decode(), policy=policy.default)
            if envelope.smtp_utf8
            else message_from_bytes(envelope.content, policy=policy.default)
        )
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(*, smtputf8: bool = False) -> Iterator[tuple[Mailbox, int]]:
    """``smtputf8``: the server offers SMTPUTF8 (RFC 6531), which non-ASCII addresses need."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of an e-mail (every e-mail also has an HTML part)."""
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def calendar_of(message: EmailMessage) -> bytes | None:
    """The bytes of the e-mail's .ics attachment, if it has one."""
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    return None
