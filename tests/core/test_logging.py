"""Log lines: one JSON object per line with the request's fields, the access log, the text
format for a terminal."""

import json
import logging

from app.core.config import Settings
from app.core.logging import JsonFormatter, TextFormatter, configure_logging, log_context
from tests.conftest import make_settings
from tests.logs import json_log_lines


async def test_a_request_writes_one_access_line_with_its_fields(client, factory):
    member = await factory.member("member", email="olga.private@example.com")
    with json_log_lines() as lines:
        response = await client.get("/api/v1/me", headers=member.headers)
    assert response.status_code == 200
    [access] = [line for line in lines if line["logger"] == "app.access"]
    assert access["request_id"] == response.headers["X-Request-ID"]
    assert (access["method"], access["route"], access["status"]) == ("GET", "/api/v1/me", 200)
    assert isinstance(access["duration_ms"], int | float) and access["duration_ms"] >= 0
    assert access["principal_id"] == str(member.id)
    assert access["level"] == "INFO" and access["time"].endswith("+00:00")
    raw = json.dumps(access)
    assert "olga.private" not in raw and "@" not in raw and "Person" not in raw


async def test_the_route_is_the_template_not_the_path(client, factory):
    admin = await factory.member("admin")
    other = await factory.member("member")
    with json_log_lines() as lines:
        response = await client.get(
            f"/api/v1/members/{other.id}", headers={**admin.headers, "X-Request-ID": "req-42"}
        )
    assert response.status_code == 200
    [access] = [line for line in lines if line["logger"] == "app.access"]
    assert (access["route"], access["request_id"]) == ("/api/v1/members/{member_id}", "req-42")
    assert str(other.id) not in json.dumps(access)


async def test_unmatched_and_anonymous_requests_are_logged_without_route_or_principal(client):
    with json_log_lines() as lines:
        response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    [access] = [line for line in lines if line["logger"] == "app.access"]
    assert (access["route"], access["status"]) == (None, 404)
    assert "principal_id" not in access


def test_json_lines_carry_the_context_extras_and_the_traceback():
    record_logger = logging.getLogger("app.test")
    with json_log_lines() as lines:
        with log_context(job="prune_login_failures"):
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                record_logger.exception("job failed", extra={"attempt": 3})
        record_logger.info("outside")
    inside, outside = lines
    assert inside["job"] == "prune_login_failures" and inside["attempt"] == 3
    assert "RuntimeError: boom" in inside["exception"]
    assert "job" not in outside and outside["message"] == "outside"


def test_text_format_keeps_multiline_messages_and_appends_the_context():
    record = logging.LogRecord(
        "app.notifications",
        logging.INFO,
        "",
        0,
        "e-mail to %s: %s\n%s",
        ("a@b", "Hi", "Body"),
        None,
    )
    assert TextFormatter().format(record).endswith("app.notifications e-mail to a@b: Hi\nBody")
    with log_context(delivery_id="d-1"):
        first, body = TextFormatter().format(record).split("\n")
    assert first.endswith("e-mail to a@b: Hi [delivery_id=d-1]") and body == "Body"


def test_configure_logging_installs_one_handler_in_the_chosen_format():
    def ours() -> list[logging.Handler]:
        return [h for h in logging.getLogger().handlers if getattr(h, "_dl_handler", False)]

    # As uvicorn leaves its access logger under --no-access-log.
    access = logging.getLogger("uvicorn.access")
    saved = (list(access.handlers), access.propagate)
    access.handlers, access.propagate = [], False
    try:
        configure_logging(make_settings(log_format="json"))
        configure_logging(make_settings(log_format="json"))
        [handler] = ours()
        assert isinstance(handler.formatter, JsonFormatter)
        assert not access.propagate and not access.hasHandlers()  # stays off
    finally:
        access.handlers, access.propagate = saved
        configure_logging(make_settings())
    [handler] = ours()
    assert isinstance(handler.formatter, TextFormatter)
    assert Settings().log_format == "text"
