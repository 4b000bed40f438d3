"""In-transaction consequences that cross areas, without a lower area importing a higher one.

Some commands of a lower area have consequences that belong to a higher one: an event that is
cancelled cancels its registrations, a submitted application gets its reviewers, a published
seating schedules the cases. The lower area owns the command and its route, so it cannot call
the higher area; instead it declares a ``Followers`` list and runs it at the right moment, and
the higher area registers its part with the ``@...follow`` decorator at import time. The entry
layer (``app/api.py``) imports every area, so every follower is registered before a request
is served.

Unlike an outbox event (delivered after the commit, at least once, outside the request), a
follower runs inside the request's transaction: if it refuses, the whole command is rolled
back, and the caller sees the follower's problem.
"""

from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Followers(Generic[P]):
    """The registered consequences of one lower-area moment, run in registration order."""

    def __init__(self, moment: str) -> None:
        self.moment = moment
        self._followers: list[Callable[P, Awaitable[None]]] = []

    def follow(self, follower: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
        """Register ``follower`` (a decorator; registering the same function twice is a no-op)."""
        if follower not in self._followers:
            self._followers.append(follower)
        return follower

    @property
    def registered(self) -> tuple[Callable[P, Awaitable[None]], ...]:
        return tuple(self._followers)

    async def run(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for follower in self._followers:
            await follower(*args, **kwargs)

    def __repr__(self) -> str:
        names = ", ".join(f"{f.__module__}.{f.__qualname__}" for f in self._followers)
        return f"Followers({self.moment!r}: {names})"
