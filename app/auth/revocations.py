"""The token versions this process has seen, so an access token costs no query per request.

An access token carries its member's ``token_version``; logging out everywhere, a password
change or reset, a role change and an erasure raise the version, and older tokens are refused.
Reading the version on every request was a round trip per request. Instead each process keeps
the versions it read, and:

- a commit that raised a version drops it from this process's cache at once (``after_commit``);
- on PostgreSQL the same transaction sends ``NOTIFY dl_token_versions`` with the member's id,
  and every process listening on its own connection drops it too (``listen``). When that
  connection breaks, the whole cache is dropped on reconnect: nothing missed meanwhile stays;
- an entry is trusted for ``TRUST_SECONDS`` at most in any case, so a lost notification (or
  ``DL_REVOCATION_LISTEN=false`` behind a pooler in transaction mode) delays a revocation by
  that long at worst. This is the promise docs/security-checklist.md states.
"""

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

logger = logging.getLogger("app.auth.revocations")

CHANNEL = "dl_token_versions"
TRUST_SECONDS = 2.0
MAX_ENTRIES = 100_000
RECONNECT_SECONDS = (0.5, 1, 2, 5)
# Members whose version a session's transaction raised; dropped from the cache at its commit.
RAISED = "dl_token_versions_raised"


class TokenVersionCache:
    """member id -> (token_version, erased) and when it was read; a bounded LRU."""

    def __init__(
        self,
        trust_seconds: float = TRUST_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.trust_seconds = trust_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[uuid.UUID, tuple[int, bool, float]] = OrderedDict()
        # Raised by every invalidation: a read that began before one must not be stored.
        self.generation = 0

    def get(self, member_id: uuid.UUID) -> tuple[int, bool] | None:
        entry = self._entries.get(member_id)
        if entry is None:
            return None
        version, erased, read_at = entry
        if self.clock() - read_at > self.trust_seconds:
            del self._entries[member_id]
            return None
        return version, erased

    def put(self, member_id: uuid.UUID, version: int, erased: bool, generation: int) -> None:
        """Store what a read that began at ``generation`` found, unless a revocation landed
        meanwhile (the read may have seen the version before it)."""
        if generation != self.generation:
            return
        self._entries[member_id] = (version, erased, self.clock())
        self._entries.move_to_end(member_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, member_ids: Iterable[uuid.UUID]) -> None:
        self.generation += 1
        for member_id in member_ids:
            self._entries.pop(member_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# One per process: every app and session of the process shares the database, so its versions.
token_versions = TokenVersionCache()


def raised_in(session: Any, member_id: uuid.UUID) -> None:
    """Note that this session's transaction raises the member's version."""
    session.info.setdefault(RAISED, set()).add(member_id)


@event.listens_for(Session, "after_commit")
def _drop_raised(session: Session) -> None:
    raised = session.info.pop(RAISED, None)
    if raised:
        token_versions.invalidate(raised)


@event.listens_for(Session, "after_rollback")
def _forget_raised(session: Session) -> None:
    session.info.pop(RAISED, None)


def _on_notification(connection: Any, pid: int, channel: str, payload: str) -> None:
    try:
        member_id = uuid.UUID(payload)
    except ValueError:
        token_versions.clear()  # not ours to read: drop everything rather than trust it
        return
    token_versions.invalidate([member_id])


def _setter(flag: asyncio.Event) -> Callable[[Any], None]:
    return lambda _connection: flag.set()


async def listen(database_url: str, ready: asyncio.Event | None = None) -> None:
    """Keep a connection LISTENing on ``CHANNEL`` until cancelled, reconnecting when it drops
    (PostgreSQL only). Each (re)connection starts from an empty cache."""
    url = make_url(database_url).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    attempt = 0
    while True:
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            await connection.add_listener(CHANNEL, _on_notification)
            token_versions.clear()  # whatever happened while nobody listened is forgotten
            attempt = 0
            if ready is not None:
                ready.set()
            await lost.wait()
            logger.warning("the token-version listener lost its connection; reconnecting")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("the token-version listener could not connect", exc_info=True)
        finally:
            if connection is not None and not connection.is_closed():
                with suppress(Exception):
                    await connection.close(timeout=2)
        token_versions.clear()
        await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
        attempt += 1
