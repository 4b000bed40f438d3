"""The retry schedule (pure): steps, jitter, Retry-After, and the total span."""

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.webhooks.retry import JITTER, MAX_ATTEMPTS, SCHEDULE, next_delay, parse_retry_after


def test_span_is_about_three_days():
    total = sum(SCHEDULE, timedelta())
    assert timedelta(days=2.5) <= total <= timedelta(days=3.5)
    assert SCHEDULE[:3] == (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30))


@given(attempts=st.integers(1, MAX_ATTEMPTS - 1), seed=st.integers())
def test_delay_stays_within_the_jitter(attempts, seed):
    delay = next_delay(attempts, random.Random(seed))
    base = SCHEDULE[attempts - 1]
    assert base * (1 - JITTER) <= delay <= base * (1 + JITTER)


def test_no_delay_after_the_last_attempt():
    assert next_delay(MAX_ATTEMPTS, random.Random(1)) is None


def test_retry_after_wins_when_longer_but_is_capped():
    rng = random.Random(1)
    assert next_delay(1, rng, timedelta(minutes=10)) == timedelta(minutes=10)
    assert next_delay(1, rng, timedelta(days=30)) == timedelta(days=1)
    assert next_delay(3, rng, timedelta(seconds=1)) >= timedelta(minutes=24)


def test_parse_retry_after():
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after(" 5 ") == timedelta(seconds=5)
    for value in (None, "", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"):
        assert parse_retry_after(value) is None
