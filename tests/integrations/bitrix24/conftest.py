"""A fake Bitrix24 portal on a fake clock, and our client wired to it."""

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from app.integrations.bitrix24.client import Bitrix24Client
from tests.integrations.bitrix24.fake import PORTAL_URL, FakeBitrix24, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeBitrix24:
    return FakeBitrix24(clock=clock)


def make_client(http: httpx.AsyncClient, clock: FakeClock, **options: object) -> Bitrix24Client:
    return Bitrix24Client(
        http, PORTAL_URL, clock=clock, sleep=clock.sleep, rng=random.Random(7), **options
    )  # type: ignore[arg-type]


@pytest.fixture
async def crm(fake: FakeBitrix24, clock: FakeClock) -> AsyncIterator[Bitrix24Client]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield make_client(http, clock)
