"""The Bitrix24 client against the fake portal: formats, errors, the bucket and backoff."""

import json
import logging

import httpx
import pytest
from pydantic import ValidationError

from app.integrations.bitrix24.client import (
    Bitrix24AuthError,
    Bitrix24Client,
    Bitrix24NotFound,
    Bitrix24RequestError,
    Bitrix24RetryLater,
    Bitrix24TimeLimit,
    error_from,
    php_query,
)
from tests.conftest import make_settings
from tests.integrations.bitrix24.conftest import make_client
from tests.integrations.bitrix24.fake import PORTAL_URL, FakeBitrix24, Outage, php_unflatten


def test_php_query_round_trips_through_php_style_parsing():
    params = {
        "fields": {"NAME": "Ivan & Co", "EMAIL": [{"VALUE": "a+b@x.ru", "VALUE_TYPE": "WORK"}]},
        "values": ["q@x.ru", "w=1@x.ru"],
        "flag": True,
    }
    query = php_query(params)
    assert "fields%5BEMAIL%5D%5B0%5D%5BVALUE%5D=a%2Bb%40x.ru" in query
    assert php_unflatten(query) == {
        "fields": {
            "NAME": "Ivan & Co",
            "EMAIL": {"0": {"VALUE": "a+b@x.ru", "VALUE_TYPE": "WORK"}},
        },
        "values": {"0": "q@x.ru", "1": "w=1@x.ru"},
        "flag": "Y",
    }


async def test_call_posts_json_to_the_method_url(crm, fake):
    contact_id = await crm.call("crm.contact.add", {"fields": {"NAME": "Anna"}})
    assert contact_id == 1
    assert fake.requests == [("crm.contact.add", {"fields": {"NAME": "Anna"}})]
    assert (await crm.call("crm.contact.get", {"id": 1}))["NAME"] == "Anna"


@pytest.mark.parametrize(
    "status,body,kind,code",
    [
        (
            400,
            {"error": "", "error_description": "Parameter 'fields' must be array."},
            Bitrix24RequestError,
            "",
        ),
        (400, {"error": "", "error_description": "Not found"}, Bitrix24NotFound, ""),
        (
            400,
            {"error": "ERROR_CORE", "error_description": "bad e-mail"},
            Bitrix24RequestError,
            "ERROR_CORE",
        ),
        (
            401,
            {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"},
            Bitrix24AuthError,
            "NO_AUTH_FOUND",
        ),
        (
            403,
            {"error": "insufficient_scope", "error_description": ""},
            Bitrix24AuthError,
            "insufficient_scope",
        ),
        (
            429,
            {
                "error": "OPERATION_TIME_LIMIT",
                "error_description": "blocked",
                "time": {"operating_reset_at": 1800000300},
            },
            Bitrix24TimeLimit,
            "OPERATION_TIME_LIMIT",
        ),
    ],
)
def test_error_bodies_become_typed_errors(status, body, kind, code):
    error = error_from(body, status)
    assert type(error) is kind
    assert error.code == code
    assert error.description == body["error_description"]
    if kind is Bitrix24TimeLimit:
        assert error.reset_at == 1800000300


async def test_empty_error_code_and_not_found_from_the_portal(crm):
    with pytest.raises(Bitrix24RequestError) as invalid:
        await crm.call("crm.contact.add", {"fields": "nope"})
    assert invalid.value.code == "" and "must be array" in invalid.value.description
    with pytest.raises(Bitrix24NotFound):
        await crm.call("crm.contact.update", {"id": 999, "fields": {"NAME": "x"}})


async def test_wrong_webhook_code_is_an_auth_error_without_retry(fake, clock):
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        client = Bitrix24Client(
            http, "https://fake-portal.bitrix24.test/rest/1/wrong/", clock=clock, sleep=clock.sleep
        )
        with pytest.raises(Bitrix24AuthError) as error:
            await client.call("crm.contact.list")
    assert error.value.code == "NO_AUTH_FOUND"
    assert clock.slept == [] and client.stats.requests == 1


async def test_batch_splits_into_fifty_and_reads_errors_per_command(crm, fake):
    commands = {
        f"c{i}": (
            "crm.contact.add",
            {"fields": {"NAME": f"N{i}", "EMAIL": [{"VALUE": f"n{i}@x.ru"}]}},
        )
        for i in range(120)
    }
    commands["c7"] = ("crm.contact.add", {"fields": {"EMAIL": [{"VALUE": "not-an-email"}]}})
    result = await crm.batch(commands)
    assert [m for m, _ in fake.requests] == ["batch", "batch", "batch"]
    assert [len(p["cmd"]) for _, p in fake.requests] == [50, 50, 20]
    assert len(result.results) == 119 and set(result.errors) == {"c7"}
    assert result.errors["c7"].code == "ERROR_CORE"
    assert fake.contacts[result.results["c0"]]["EMAIL"][0]["VALUE"] == "n0@x.ru"


async def test_batch_reads_empty_php_arrays_and_totals(clock):
    answers = iter(
        [
            {
                "result": {
                    "result": [],
                    "result_error": [],
                    "result_total": [],
                    "result_next": [],
                    "result_time": [],
                },
                "time": {},
            },
            {
                "result": {
                    "result": {"a": [{"ID": "5"}]},
                    "result_error": [],
                    "result_total": {"a": 120},
                    "result_next": {"a": 50},
                },
                "time": {},
            },
        ]
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = make_client(http, clock)
        empty = await client.batch({"a": ("crm.contact.list", {})})
        assert (empty.results, empty.errors, empty.totals) == ({}, {}, {})
        page = await client.batch({"a": ("crm.contact.list", {})})
    assert page.results == {"a": [{"ID": "5"}]}
    assert page.totals == {"a": 120} and page.nexts == {"a": 50}


async def test_findbycomm_nothing_found_is_an_empty_list(crm, fake):
    fake.seed(NAME="X", EMAIL=[{"VALUE": "x@x.ru"}])
    assert (
        await crm.call(
            "crm.duplicate.findbycomm",
            {"entity_type": "CONTACT", "type": "EMAIL", "values": ["no@x.ru"]},
        )
        == []
    )
    assert await crm.call(
        "crm.duplicate.findbycomm",
        {"entity_type": "CONTACT", "type": "EMAIL", "values": ["X@x.ru"]},
    ) == {"CONTACT": [1]}


async def test_bucket_paces_requests_at_the_portal_rate(crm, fake, clock):
    start = clock.now
    for _ in range(60):
        await crm.call("crm.contact.list", {})
    # 50 at once (the burst), then one every 1/2 s: 10 more take 5 s.
    assert clock.now - start == pytest.approx(5.0)
    assert fake.rejected == 0 and fake.max_level <= 50
    assert all(s == pytest.approx(0.5) for s in clock.slept)


async def test_limit_exceeded_backs_off_exponentially_then_succeeds(crm, fake, clock):
    fake.outage = Outage(until=clock.now + 7.2)
    assert await crm.call("crm.contact.list", {}) == []
    # 1, 2, 4, 8 s ceilings with jitter in the upper half of each: four waits cover 7.2 s.
    assert len(clock.slept) == 4 and sum(clock.slept) >= 7.2
    for attempt, delay in enumerate(clock.slept):
        assert 2**attempt / 2 <= delay <= 2**attempt
    assert crm.stats.retries == 4 and fake.rejected == 0


async def test_limit_exceeded_with_http_200_is_recognised(fake, clock):
    fake.limit_status, fake.capacity = 200, 1
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        # Our own bucket believes in 50, so the portal's smaller one speaks first.
        client = make_client(http, clock)
        await client.call("crm.contact.list", {})
        assert await client.call("crm.contact.list", {}) == []
    assert fake.rejected == 1 and client.stats.retries == 1


async def test_persistent_outage_ends_in_retry_later(fake, clock):
    fake.outage = Outage(until=clock.now + 3600)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        client = make_client(http, clock, max_retries=2)
        with pytest.raises(Bitrix24RetryLater) as later:
            await client.call("crm.contact.list", {})
    assert later.value.cause.code == "QUERY_LIMIT_EXCEEDED"
    assert 2 <= later.value.retry_after <= 4  # the next backoff step
    assert client.stats.requests == 3


async def test_operation_time_limit_waits_for_the_announced_reset(fake, clock):
    fake.outage = Outage(
        until=clock.now + 300,
        status=429,
        code="OPERATION_TIME_LIMIT",
        description="Method is blocked due to operation time limit.",
    )
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        client = make_client(http, clock)
        with pytest.raises(Bitrix24RetryLater) as later:
            await client.call("crm.contact.list", {})
    # Five minutes is longer than a call should sleep: the worker comes back at the reset.
    assert later.value.retry_after == pytest.approx(300)
    assert clock.slept == []


async def test_timeouts_are_retried_then_reported(clock):
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        assert request.extensions["timeout"]["read"] == 30.0
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = make_client(http, clock, max_retries=1)
        with pytest.raises(Bitrix24RetryLater) as later:
            await client.call("crm.contact.list", {})
    assert calls == 2 and later.value.cause.code == "TIMEOUT"


def test_webhook_url_is_validated_and_kept_secret():
    settings = make_settings(bitrix24_webhook_url=PORTAL_URL.rstrip("/"))
    assert settings.bitrix24_enabled
    assert settings.bitrix24_webhook_url.get_secret_value() == PORTAL_URL
    assert "s3cr3tc0de" not in repr(settings) and "s3cr3tc0de" not in str(settings)
    assert "s3cr3tc0de" not in json.dumps(settings.model_dump(mode="json"))
    assert not make_settings().bitrix24_enabled
    for bad in (
        "http://portal.bitrix24.ru/rest/1/abc/",
        "https://portal.bitrix24.ru/abc",
        "https://portal.bitrix24.ru/rest/x/abc/",
    ):
        with pytest.raises(ValidationError):
            make_settings(bitrix24_webhook_url=bad)


def test_fake_refuses_oversized_batches():
    fake = FakeBitrix24()
    request = httpx.Request(
        "POST",
        PORTAL_URL + "batch.json",
        json={"halt": 0, "cmd": {f"c{i}": "crm.contact.list?" for i in range(51)}},
    )
    response = fake.handle(request)
    assert response.status_code == 400
    assert response.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


async def test_retry_after_header_is_honoured(clock):
    answers = iter(
        [
            httpx.Response(
                503,
                headers={"Retry-After": "20"},
                json={"error": "OVERLOAD_LIMIT", "error_description": "blocked"},
            ),
            httpx.Response(200, json={"result": [], "time": {}}),
        ]
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = make_client(http, clock)
        assert await client.call("crm.contact.list", {}) == []
    assert clock.slept == [pytest.approx(20)]


async def test_webhook_code_never_reaches_the_logs(crm, fake, clock, caplog):
    caplog.set_level(logging.DEBUG)
    fake.outage = Outage(until=clock.now + 1)
    await crm.call("crm.contact.list", {})  # one retry, logged
    with pytest.raises(Bitrix24RequestError):
        await crm.call("crm.contact.add", {"fields": "x"})
    assert "retry 1" in caplog.text
    assert "s3cr3tc0de" not in caplog.text


async def test_a_time_limit_without_a_reset_waits_for_the_last_reset_given(clock):
    """The portal announced its reset once (in a successful answer's timing); a later 429
    OPERATION_TIME_LIMIT that names none waits for that reset, not a guessed minute."""
    reset = clock.now + 400
    answers = [
        httpx.Response(200, json={"result": [], "time": {"operating_reset_at": reset}}),
        httpx.Response(429, json={"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"}),
    ]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = make_client(http, clock)
        await client.call("crm.contact.list", {})
        with pytest.raises(Bitrix24RetryLater) as later:
            await client.call("crm.contact.list", {})
    assert later.value.retry_after == pytest.approx(400, abs=1)
    assert "OPERATION_TIME_LIMIT (HTTP 429): blocked" == later.value.cause.summary


def test_an_error_without_a_code_keeps_the_portals_words():
    error = error_from({"error": "", "error_description": "Field NAME must be array"}, 400)
    assert error.summary == "no code (HTTP 400): Field NAME must be array"
