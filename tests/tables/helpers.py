"""An event with confirmed attendees ready to seat, built straight in the database."""

import uuid
from typing import Any

from app.models.registration import Registration, RegistrationStatus
from tests.events.helpers import create_event, move

FUNCTIONS = ["CTO", "CMO", "CFO", "CHRO", "COO", "CIO", "CDO", "CEO"]


async def attend(
    db, event_id: str, *actors: Any, status: str = RegistrationStatus.confirmed
) -> None:
    for actor in actors:
        db.add(Registration(event_id=uuid.UUID(event_id), member_id=actor.id, status=status))
    await db.flush()


async def seated_event(
    client,
    db,
    factory,
    admin,
    people: int = 16,
    *,
    table_size: int = 4,
    facilitators: int = 0,
    **event_fields: Any,
) -> tuple[dict, list]:
    """A published event whose ``people`` attendees are confirmed: (event, actors)."""
    event = await create_event(client, admin, table_size=table_size, **event_fields)
    await move(client, admin, event["id"], "published", "registration_open")
    actors = []
    for i in range(people):
        roles = ("member", "facilitator") if i < facilitators else ("member",)
        actors.append(
            await factory.member(
                *roles,
                function=FUNCTIONS[i % len(FUNCTIONS)],
                seniority=1 + i % 5,
                full_name=f"Attendee {i:02d}",
            )
        )
    await attend(db, event["id"], *actors)
    return event, actors


def tables_of(plan: dict) -> list[set[str]]:
    return [{a["member_id"] for a in t["attendees"]} for t in plan["tables"]]


def table_number_of(plan: dict, member_id: Any) -> int:
    for table in plan["tables"]:
        if str(member_id) in {a["member_id"] for a in table["attendees"]}:
            return table["number"]
    raise AssertionError(f"{member_id} is not seated")
