"""Loads a small demo community into an empty database and prints how to log in.

``make run`` calls it (``python -m app.manage load-demo``) before serving; it does nothing when
members already exist.
"""

import asyncio
import random
import secrets
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.auth.service import normalize_email
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.security import PasswordHasher
from app.models.case import Case, CaseStatus, CaseVisibility, Recommendation
from app.models.event import Event, EventStatus, EventVisibility
from app.models.member import Function, Member, MemberRole, Role, Visibility
from app.models.registration import Registration, RegistrationStatus
from app.models.survey import Survey, SurveyRespondent, SurveyResponse, SurveyStatus
from app.models.table import EventTable, PlanStatus, SeatingPlan, TableSeat
from app.surveys.questions import EXPRESS_TITLE, express_questions
from app.tables.seating.model import Attendee, Instance, Plan
from app.tables.seating.solver import solve

FIRST_NAMES = [
    "Alexey",
    "Anna",
    "Dmitry",
    "Elena",
    "Igor",
    "Irina",
    "Maxim",
    "Maria",
    "Oleg",
    "Olga",
    "Pavel",
    "Svetlana",
    "Sergey",
    "Tatiana",
    "Andrey",
    "Natalia",
    "Roman",
    "Yulia",
    "Vladimir",
    "Ekaterina",
    "Mikhail",
    "Anastasia",
    "Nikolai",
    "Daria",
]
LAST_NAMES = [
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Volkov",
    "Sokolov",
    "Lebedev",
    "Kozlov",
    "Novikov",
    "Morozov",
    "Petrov",
    "Orlov",
    "Pavlov",
    "Semenov",
    "Golubev",
    "Vinogradov",
    "Bogdanov",
    "Fedorov",
    "Mikhailov",
    "Belov",
    "Tarasov",
    "Belyaev",
]
CITIES = (
    ["Moscow"] * 6
    + ["Saint Petersburg"] * 3
    + ["Kazan", "Novosibirsk", "Yekaterinburg", "Nizhny Novgorod", "Samara", "Krasnodar"]
)
# Fictional companies; several members share one, as colleagues do.
COMPANIES = [
    ("Uralstal Digital", "Metals"),
    ("Volga Bank", "Banking"),
    ("Korzina Marketplace", "E-commerce"),
    ("Gastronom Retail", "Retail"),
    ("Svyaz Telecom", "Telecom"),
    ("Pyaterka Tech", "Retail"),
    ("Nebo Airlines", "Aviation"),
    ("Polar Metals", "Mining"),
    ("Neva Capital Bank", "Banking"),
    ("Signal Mobile", "Telecom"),
    ("Moda Online", "E-commerce"),
    ("Khimprom Digital", "Petrochemicals"),
    ("Magistral Rail", "Transport"),
    ("Sever Neft", "Oil and gas"),
    ("Kopilka Bank", "Banking"),
    ("Obyavleniya.ru", "Classifieds"),
    ("Shield Labs", "Security"),
    ("Zdorovye Pharma", "Pharma"),
    ("Agrokhim", "Chemicals"),
    ("Dom i Sad", "Retail"),
]
TAGS = [
    "cloud",
    "data platforms",
    "AI adoption",
    "cybersecurity",
    "hiring",
    "agile at scale",
    "ERP",
    "product discovery",
    "vendor management",
    "IT budgeting",
    "M&A integration",
    "digital marketing",
    "platform teams",
    "open source",
    "import substitution",
    "CX",
]
TITLES = {
    Function.cto: "Chief Technology Officer",
    Function.cio: "Chief Information Officer",
    Function.cdo: "Chief Digital Officer",
    Function.cpo: "Chief Product Officer",
    Function.cmo: "Chief Marketing Officer",
    Function.cfo: "Chief Financial Officer",
    Function.coo: "Chief Operating Officer",
    Function.chro: "Chief HR Officer",
    Function.ceo: "Chief Executive Officer",
    Function.head_of_sales: "Head of Sales",
    Function.head_of_product: "Head of Product",
    Function.head_of_engineering: "Head of Engineering",
    Function.other: "Director of IT",
}
# Weighted towards IT and digital roles, as the community is.
FUNCTION_WEIGHTS = {
    Function.cto: 14,
    Function.cio: 14,
    Function.cdo: 10,
    Function.head_of_engineering: 10,
    Function.cpo: 7,
    Function.head_of_product: 7,
    Function.cmo: 6,
    Function.coo: 5,
    Function.cfo: 4,
    Function.chro: 4,
    Function.ceo: 5,
    Function.head_of_sales: 4,
    Function.other: 6,
}
MEMBER_COUNT = 100


def _person(rng: random.Random, index: int, password_hash: str, **fields: object) -> Member:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if first.endswith("a") or first in {"Irina", "Natalia", "Yulia", "Daria"}:
        last += "a"  # Russian surnames agree with the first name
    company, industry = rng.choice(COMPANIES)
    function = rng.choices(list(FUNCTION_WEIGHTS), weights=list(FUNCTION_WEIGHTS.values()))[0]
    joined = datetime.now(UTC) - timedelta(days=rng.randint(1, 600))
    values: dict[str, object] = {
        "email": f"{first.lower()}.{last.lower()}.{index}@example.com",
        "full_name": f"{first} {last}",
        "password_hash": password_hash,
        "phone": f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-"
        f"{rng.randint(10, 99)}",
        "city": rng.choice(CITIES),
        "function": function.value,
        "seniority": rng.choices([1, 2, 3, 4, 5], weights=[1, 3, 4, 3, 1])[0],
        "industry": industry,
        "expertise_tags": rng.sample(TAGS, rng.randint(1, 4)),
        "bio": f"{TITLES[function]} in {industry.lower()}; "
        f"{rng.randint(5, 25)} years in management.",
        "company": company,
        "job_title": TITLES[function],
        "company_visibility": rng.choice(list(Visibility)).value,
        "job_title_visibility": rng.choice([Visibility.members, Visibility.public]).value,
        "member_since": joined.date(),
        "created_at": joined,
        "updated_at": joined,
        # Demo people have passwords and their addresses count as proven.
        "email_verified_at": joined,
    }
    values.update(fields)
    values["email_normalized"] = normalize_email(str(values["email"]))
    return Member(**values)  # type: ignore[arg-type]


def _events(admin: Member) -> list[Event]:
    """The next board meeting, open for registration, and one still being prepared."""
    start = (datetime.now(UTC) + timedelta(days=14)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )

    def event(title: str, starts_at: datetime, status: EventStatus, **fields: Any) -> Event:
        return Event(
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=4),
            status=status,
            venue_name="Loft on Tverskaya",
            venue_address="Moscow, Tverskaya 1",
            time_zone="Europe/Moscow",
            seats=64,
            table_size=8,
            created_by=admin.id,
            **fields,
        )

    return [
        event(
            "Board of directors #2",
            start,
            EventStatus.registration_open,
            description="Eight tables of eight peers; cases on AI adoption and IT budgets.",
            confirm_by=start - timedelta(days=2),
            visibility=EventVisibility.public,
        ),
        event("Board of directors #3", start + timedelta(days=42), EventStatus.draft),
    ]


def _past_meeting(admin: Member, attendees: list[Member], facilitators: set[Any]) -> list[Any]:
    """The first board meeting, held a month ago: its seating, published by the solver, and
    one case discussed at a table with a recommendation. Rows to add, in order."""
    start = (datetime.now(UTC) - timedelta(days=30)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    event = Event(
        title="Board of directors #1",
        starts_at=start,
        ends_at=start + timedelta(hours=4),
        status=EventStatus.completed,
        venue_name="Loft on Tverskaya",
        venue_address="Moscow, Tverskaya 1",
        seats=64,
        table_size=8,
        seats_held=len(attendees),
        created_by=admin.id,
        visibility=EventVisibility.public,
    )
    rows: list[Any] = [event]
    rows += [
        Registration(
            event_id=event.id,
            member_id=m.id,
            status=RegistrationStatus.checked_in,
            confirmed_at=start,
            checked_in_at=start,
        )
        for m in attendees
    ]
    author = attendees[-1]
    instance = Instance(
        table_size=8,
        seed=1,
        attendees=tuple(
            Attendee(
                id=str(m.id),
                function=m.function,
                seniority=m.seniority,
                company=m.company,
                facilitator=m.id in facilitators,
                has_case=m is author,
            )
            for m in attendees
        ),
    )
    plan = solve(instance)
    seating = SeatingPlan(
        event_id=event.id,
        status=PlanStatus.published,
        table_size=8,
        tables={str(t.number): list(t.attendees) for t in plan.tables},
        options={
            "seed": 1,
            "time_limit_s": 5.0,
            "tables": None,
            "weights": {"repeat_pairs": 10.0, "mixed_functions": 3.0, "seniority": 2.0},
        },
        metrics=asdict(plan.metrics) if plan.metrics else {},
        evaluation={str(t.number): {"score": t.score, "reasons": []} for t in plan.tables},
        created_by=admin.id,
        published_at=start - timedelta(days=2),
    )
    rows.append(seating)
    by_id = {str(m.id): m for m in attendees}
    author_table = None
    for table_plan in plan.tables:
        people = [by_id[i] for i in table_plan.attendees]
        table = EventTable(
            event_id=event.id,
            plan_id=seating.id,
            number=table_plan.number,
            name=f"Table {table_plan.number}",
            facilitator_id=next((m.id for m in people if m.id in facilitators), None),
            seats=8,
        )
        rows.append(table)
        rows += [TableSeat(table_id=table.id, member_id=m.id, event_id=event.id) for m in people]
        if author in people:
            author_table = (table, [m for m in people if m is not author])
    assert author_table is not None
    table, mates = author_table
    case = Case(
        event_id=event.id,
        author_id=author.id,
        table_id=table.id,
        title="Should analytics report to the CFO?",
        context="Forty analysts report to IT; finance rebuilds every report by hand.",
        question="Move analytics under finance, or fix the handover?",
        good_outcome="A decision and a 90-day plan.",
        visibility=CaseVisibility.members,
        status=CaseStatus.discussed,
        submitted_at=start - timedelta(days=10),
    )
    rows.append(case)
    rows.append(
        Recommendation(
            case_id=case.id,
            author_id=mates[0].id,
            advice="Move the analysts, keep the data platform in IT.",
            experience="At a retail bank in 2023 I split them this way; report time halved.",
        )
    )
    rows += _express_survey(event, attendees, plan, start)
    return rows


def _express_survey(
    event: Event, attendees: list[Member], plan: Plan, start: datetime
) -> list[Any]:
    """The express survey after the first meeting, closed, with anonymous answers from all
    but two attendees (who answered is kept apart from what was answered)."""
    rng = random.Random(92)
    ended = start + timedelta(hours=4)
    survey = Survey(
        event_id=event.id,
        title=EXPRESS_TITLE["en"].format(event=event.title),
        status=SurveyStatus.closed,
        anonymous=True,
        opens_at=ended,
        opened_at=ended,
        closes_at=ended + timedelta(days=14),
        closed_at=ended + timedelta(days=14),
        headline_question="liked",
        questions=express_questions("en"),
    )
    table_of = {member: t.number for t in plan.tables for member in t.attendees}
    rows: list[Any] = []
    for member in attendees[:-2]:
        rows.append(SurveyRespondent(survey_id=survey.id, member_id=member.id))
        answers: dict[str, Any] = {
            "liked": rng.choices([5, 4, 3], weights=[6, 5, 1])[0],
            "nps": rng.choice([10, 9, 9, 8, 7]),
        }
        if rng.random() < 0.4:
            answers["most_useful"] = rng.choice(
                [
                    "The case discussion at our table.",
                    "Peers with the same problems.",
                    "Hearing how others budget for AI.",
                ]
            )
        rows.append(
            SurveyResponse(
                survey_id=survey.id,
                answers=answers,
                sealed=True,
                table_number=table_of[str(member.id)],
                submitted_on=(ended + timedelta(days=rng.randint(0, 13))).date(),
            )
        )
    rng.shuffle(rows)  # no order shared between who answered and what
    return [survey, *rows]


async def load_demo(settings: Settings) -> tuple[str, str] | None:
    """Creates the demo community; returns (admin password, member password), or None when
    the database already has people."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(Member)):
                return None
            hasher = PasswordHasher(settings)
            admin_password = secrets.token_urlsafe(12)
            member_password = "demo-member-password"
            admin_hash = await hasher.hash(admin_password)
            member_hash = await hasher.hash(member_password)
            rng = random.Random(2026)
            people: list[tuple[Member, list[Role]]] = [
                (
                    _person(
                        rng, 0, admin_hash, email="admin@example.com", full_name="Community Admin"
                    ),
                    [Role.admin, Role.member],
                )
            ]
            for i in range(1, 4):
                people.append(
                    (
                        _person(rng, i, member_hash, email=f"reviewer{i}@example.com"),
                        [Role.reviewer, Role.member],
                    )
                )
            for i in range(4, 6):
                people.append(
                    (
                        _person(rng, i, member_hash, email=f"facilitator{i - 3}@example.com"),
                        [Role.facilitator, Role.member],
                    )
                )
            for i in range(6, 6 + MEMBER_COUNT):
                people.append((_person(rng, i, member_hash), [Role.member]))
            for i in range(3):
                people.append(
                    (
                        _person(
                            rng,
                            200 + i,
                            member_hash,
                            member_since=None,
                            email=f"applicant{i + 1}@example.com",
                        ),
                        [Role.applicant],
                    )
                )
            session.add_all(member for member, _ in people)
            await session.flush()
            session.add_all(
                MemberRole(member_id=member.id, role=role)
                for member, roles in people
                for role in roles
            )
            session.add_all(_events(people[0][0]))
            await session.flush()
            facilitators = {member.id for member, roles in people if Role.facilitator in roles}
            attendees = [member for member, roles in people[4:30]]
            for row in _past_meeting(people[0][0], attendees, facilitators):
                session.add(row)
                await session.flush()
            await session.commit()
            return admin_password, member_password
    finally:
        await engine.dispose()


def main() -> None:
    settings = get_settings()
    created = asyncio.run(load_demo(settings))
    if created is None:
        print("Demo data: the database already has members; nothing loaded.")
        return
    admin_password, member_password = created
    print(
        "Demo community loaded: 1 admin, 3 reviewers, 2 facilitators, "
        f"{MEMBER_COUNT} members, 3 applicants; a past meeting seated at tables with a "
        "case, the next one open for registration."
    )
    print(f"  admin:      admin@example.com / {admin_password}")
    print(f"  reviewers:  reviewer1@example.com .. reviewer3@example.com / {member_password}")
    print(f"  facilitators: facilitator1@example.com, facilitator2@example.com / {member_password}")
    print(f"  applicants: applicant1@example.com .. applicant3@example.com / {member_password}")
    print(f"  members:    any other demo e-mail (see GET /api/v1/members) / {member_password}")
    print("  API docs:   http://127.0.0.1:8000/docs (the admin password is shown only now)")
