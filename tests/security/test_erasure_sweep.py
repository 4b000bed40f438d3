"""Erasure (checklist P5): after the canary owner and the canary applicant erase their
accounts, no row of any table holds their personal data, and subscribers are told.

The whole database is read back, every table and every column, and searched for the
owner's name, company, title, phone and e-mail."""

import json

from sqlalchemy import select
from sqlmodel import SQLModel

from tests.conftest import outbox_events
from tests.security.test_canary import CANARY, build_world

PERSONAL = [*CANARY.values(), "Owner Canary", "Applicant Canary", "applicant-canary@example.com"]


async def _rows_holding_personal_data(db) -> list[tuple[str, str]]:
    found = []
    for name, table in SQLModel.metadata.tables.items():
        for row in (await db.execute(select(table))).mappings():
            text = json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False).lower()
            found.extend((name, value) for value in PERSONAL if value.lower() in text)
    return found


async def test_erasure_leaves_no_personal_data_in_any_table(client, db, factory):
    world = await build_world(client, db, factory, "https://hooks.example.com/hook")
    people = [world["owner"], world["applicant_owner"]]
    before = await _rows_holding_personal_data(db)
    assert {name for name, _ in before} >= {"member", "application"}  # the scan finds them
    for person in people:
        erased = await client.delete("/api/v1/me", headers=person.headers)
        assert erased.status_code == 204
    db.expire_all()
    assert await _rows_holding_personal_data(db) == []  # the figure: rows left, target 0
    told = {e.data["id"] for e in await outbox_events(db, "member.erased")}
    assert told == {str(person.id) for person in people}
