"""A fake Bitrix24 portal on a fake clock, and our client wired to it."""

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from app.integrations.bitrix24.client import Bitrix24Client
from tests.integrations.bitrix24.fake import PORTAL_URL, FakeBitrix24


class FakeClock:
    """Time that moves only when someone sleeps: waits are instant and exactly measurable."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeBitrix24:
    return FakeBitrix24(clock=clock)


def make_client(http: httpx.AsyncClient, clock: FakeClock, **options: object) -> Bitrix24Client:
    return Bitrix24Client(http, PORTAL_URL, clock=clock, sleep=clock.sleep,
                          rng=random.Random(7), **options)  # type: ignore[arg-type]


@pytest.fixture
async def crm(fake: FakeBitrix24, clock: FakeClock) -> AsyncIterator[Bitrix24Client]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield make_client(http, clock)
