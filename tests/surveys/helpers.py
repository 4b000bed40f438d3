"""Shared steps: an event with attendees in a given status, published tables, surveys."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.registration import Registration, RegistrationStatus
from app.models.table import EventTable, SeatingPlan, TableSeat
from tests.events.helpers import EVENT, create_event, move, soon

RATING_SURVEY = [
    {"key": "liked", "type": "rating", "text": "How did you like it?", "required": True},
    {"key": "nps", "type": "nps", "text": "Recommend us?"},
    {
        "key": "format",
        "type": "single_choice",
        "text": "Best format?",
        "options": ["tables", "plenary"],
        "section": "Format",
    },
    {
        "key": "topics",
        "type": "multiple_choice",
        "text": "Topics?",
        "options": ["AI", "People", "Money"],
        "max_choices": 2,
        "section": "Format",
    },
    {"key": "again", "type": "yes_no", "text": "Come again?"},
    {"key": "change", "type": "long_text", "text": "What should we change?", "max_length": 300},
]


async def event_with(
    client, db, factory, admin, people: int, *, status: str = RegistrationStatus.checked_in
) -> tuple[dict, list]:
    """An event whose ``people`` members registered and reached ``status``."""
    event = await create_event(client, admin)
    await move(client, admin, event["id"], "published", "registration_open")
    actors = [await factory.member("member") for _ in range(people)]
    for actor in actors:
        db.add(Registration(event_id=uuid.UUID(event["id"]), member_id=actor.id, status=status))
    await db.flush()
    return event, actors


async def seat(
    db, event_id: str, tables: dict[int, list[Any]], facilitators: dict[int, Any] | None = None
) -> None:
    """Published tables of the event, as the seating would leave them."""
    event = uuid.UUID(event_id)
    plan = SeatingPlan(event_id=event, status="published", table_size=8)
    db.add(plan)
    await db.flush()
    for number, actors in tables.items():
        leader = (facilitators or {}).get(number)
        table = EventTable(
            event_id=event,
            plan_id=plan.id,
            number=number,
            name=f"Table {number}",
            seats=8,
            facilitator_id=leader.id if leader else None,
        )
        db.add(table)
        await db.flush()
        db.add_all(TableSeat(table_id=table.id, member_id=a.id, event_id=event) for a in actors)
    await db.flush()


async def create_survey(client, admin, **fields: Any) -> dict:
    body = {"title": "After the board", "questions": RATING_SURVEY, **fields}
    response = await client.post("/api/v1/surveys", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def open_survey(client, admin, survey_id: str) -> dict:
    response = await client.post(f"/api/v1/surveys/{survey_id}/open", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def open_survey_for(client, admin, event: dict, **fields: Any) -> dict:
    survey = await create_survey(client, admin, event_id=event["id"], **fields)
    return await open_survey(client, admin, survey["id"])


async def answer(client, actor, survey_id: str, answers: dict, status: int = 201) -> dict:
    response = await client.post(
        f"/api/v1/surveys/{survey_id}/responses", headers=actor.headers, json={"answers": answers}
    )
    assert response.status_code == status, response.text
    return response.json()


async def open_event_survey(live, app, engine, admin, people, *, anonymous: bool) -> str:
    """An open survey of a committed event whose ``people`` checked in (live sessions)."""
    created = await live.post("/api/v1/events", headers=admin, json={**EVENT, **soon()})
    event_id = created.json()["id"]
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        session.add_all(
            Registration(event_id=uuid.UUID(event_id), member_id=m.id, status="checked_in")
            for m in people
        )
        await session.commit()
    survey = await live.post(
        "/api/v1/surveys",
        headers=admin,
        json={
            "title": "Race",
            "event_id": event_id,
            "anonymous": anonymous,
            "questions": RATING_SURVEY,
        },
    )
    survey_id = survey.json()["id"]
    opened = await live.post(f"/api/v1/surveys/{survey_id}/open", headers=admin)
    assert opened.status_code == 200, opened.text
    return survey_id
