"""The local SMTP server the e-mail tests read from."""

import pytest

from tests.smtp import smtp_server


@pytest.fixture
def mail():
    with smtp_server() as (mailbox, port):
        yield mailbox, port
