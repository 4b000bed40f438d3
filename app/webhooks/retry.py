"""When to try a failed delivery again: exponential steps with jitter over about three days.

Attempt 1 is immediate; after a failure the next waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
then a day, twice: nine attempts over about 66 hours. A receiver's ``Retry-After`` (429, 503)
is honoured when it asks for longer, within a day.
"""

import random
from datetime import timedelta

SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(days=1),
    timedelta(days=1),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.2
MAX_RETRY_AFTER = timedelta(days=1)


def next_delay(
    attempts_made: int, rng: random.Random, retry_after: timedelta | None = None
) -> timedelta | None:
    """The wait before the next attempt after ``attempts_made`` failed ones, or None when
    the delivery has used all its attempts."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempts_made - 1]
    delay = base * (1 + rng.uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None) -> timedelta | None:
    """Retry-After in seconds (the HTTP-date form is rare from receivers and ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return timedelta(seconds=int(value.strip()))
