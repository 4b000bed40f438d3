"""Outbox atomicity under injected failures (checklist C4): a change and its event commit
together or not at all, whichever step of the request fails.

Two hundred profile changes are made; a seeded random half of them fail at a random step
after the route ran (before the flush, after the rows were written, at the commit). After
every request, the member's version (the state) and the member.updated events (the outbox)
must tell the same story.
"""

import random

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.models.member import Member
from tests.conftest import outbox_events

RUNS = 200
STEPS = ["before_flush", "after_flush", "before_commit"]


class Injected(RuntimeError):
    pass


async def test_no_state_without_its_event_nor_event_without_its_state(client, factory, db):
    member = await factory.member("member")
    rng = random.Random(20261202)
    armed: dict[str, str | None] = {"step": None}

    def make_hook(step: str):
        def hook(session: Session, *args: object) -> None:
            # Only the app's sessions (they commit); the test's own session never does.
            if armed["step"] == step and session is not db.sync_session:
                armed["step"] = None
                raise Injected(step)

        return hook

    hooks = [(step, make_hook(step)) for step in STEPS]
    for step, hook in hooks:
        event.listen(Session, step, hook)
    failed = succeeded = mismatches = 0
    try:
        for run in range(RUNS):
            armed["step"] = rng.choice(STEPS) if rng.random() < 0.5 else None
            injected = armed["step"] is not None
            response = await client.patch(
                "/api/v1/me", headers=member.headers, json={"city": f"City {run}"}
            )
            if injected:
                assert response.status_code == 500, response.text
                failed += 1
            else:
                assert response.status_code == 200, response.text
                succeeded += 1
            db.expire_all()
            version = await db.scalar(select(Member.version).where(Member.id == member.id))
            events = await outbox_events(db, "member.updated")
            if [e.data["version"] for e in events] != list(range(2, version + 1)):
                mismatches += 1
    finally:
        for step, hook in hooks:
            event.remove(Session, step, hook)
    assert mismatches == 0  # the figure: events without state, or state without event
    assert failed > RUNS // 3 and succeeded > RUNS // 3
    assert version == 1 + succeeded and len(events) == succeeded
