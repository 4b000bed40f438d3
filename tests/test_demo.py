"""The demo community that `make run` loads on first start."""

import asyncio
import os
import tempfile
from collections import Counter

from sqlalchemy import select

from app.core.db import create_engine
from app.manage.demo import MEMBER_COUNT, load_demo
from app.models.case import Case
from app.models.event import Event
from app.models.member import Member, MemberRole
from app.models.survey import SurveyResponse
from app.models.table import EventTable, TableSeat
from tests.conftest import make_settings, migrate


async def test_demo_loads_once_with_a_realistic_community():
    path = os.path.join(tempfile.mkdtemp(prefix="dl-demo-"), "demo.db")
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)  # alembic runs its own event loop
    settings = make_settings(database_url=url)
    created = await load_demo(settings)
    assert created is not None and len(created[0]) >= 12
    assert await load_demo(settings) is None  # second start: nothing loaded

    engine = create_engine(settings)
    async with engine.connect() as connection:
        members = (await connection.execute(select(Member))).all()
        roles = Counter((await connection.execute(select(MemberRole.role))).scalars())
        events = Counter((await connection.execute(select(Event.status))).scalars())
    await engine.dispose()
    assert roles["admin"] == 1 and roles["reviewer"] == 3 and roles["facilitator"] == 2
    assert roles["member"] == 1 + 3 + 2 + MEMBER_COUNT and roles["applicant"] == 3
    companies = Counter(m.company for m in members)
    assert max(companies.values()) > 1  # some share a company
    assert len({m.function for m in members}) >= 8
    assert len({m.city for m in members}) >= 5
    assert {m.seniority for m in members} <= {1, 2, 3, 4, 5}
    assert len({m.email_normalized for m in members}) == len(members)
    assert events == {"registration_open": 1, "draft": 1, "completed": 1}
    async with engine.connect() as connection:
        seats = (await connection.execute(select(TableSeat))).all()
        tables = (await connection.execute(select(EventTable))).all()
        cases = (await connection.execute(select(Case))).all()
        answers = (await connection.execute(select(SurveyResponse))).all()
    # The past meeting: 26 people at 4 tables, both facilitators at different tables.
    assert len(seats) == 26 and len(tables) == 4 and len(cases) == 1
    assert len({t.facilitator_id for t in tables} - {None}) == 2
    # Its express survey: 24 anonymous answers, linked to nobody.
    assert len(answers) == 24 and all(a.member_id is None for a in answers)
