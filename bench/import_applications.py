"""CSV import of 2,500 applications on PostgreSQL, next to a raw asyncpg baseline.

    .venv/bin/python -m bench.import_applications [--rows 2500] [--rounds 3]

Each round starts from a freshly migrated database (`dl_bench_import`, dropped at the end)
holding one admin and 30 reviewers, then times, in process through the ASGI app (no network):
1. the import of a generated file with Russian headers (members, applications, reviewer
   assignment, outbox rows, the per-row report);
2. the same file again (idempotent: every row unchanged);
3. the baseline: the same member and application rows written by raw asyncpg `executemany`
   in one transaction, the floor for storing that much data.
The target is the first figure under 10 s.
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from alembic.config import Config
from sqlalchemy.engine import make_url

from alembic import command
from app.core.config import Settings
from app.main import create_app
from app.models.member import Member, MemberRole

URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_import"
HEADER = (
    "ФИО;Почта;Телефон;Функция;Уровень;Отрасль;Стаж в управлении;Размер команды;Компания;"
    "Должность;Опыт;Что хотите получить;Чем можете поделиться;Откуда узнали;utm_source;"
    "utm_campaign;Согласие на показ компании и должности"
)
FUNCTIONS = ("CEO", "CTO", "CIO", "CDO", "CPO", "CMO", "CFO", "COO", "CHRO")
COMPANIES = ("ООО Ромашка", "АО Вектор", "ПАО Север", "Acme LLC", "Globex Inc", "ИП Смирнов")


def make_csv(rows: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    lines = [HEADER]
    for i in range(rows):
        lines.append(
            ";".join(
                [
                    f"Участник {i}",
                    f"applicant{i}@example.com",
                    f"+7 900 {i:07d}",
                    rnd.choice(FUNCTIONS),
                    str(rnd.randint(1, 5)),
                    "Ритейл",
                    str(rnd.randint(1, 25)),
                    str(rnd.randint(3, 500)),
                    rnd.choice(COMPANIES),
                    "Директор по цифровизации",
                    "Руководил цифровой трансформацией сети из 200 магазинов, команда 80 человек",
                    "Обмен опытом с равными",
                    "Облака, найм, бюджеты",
                    rnd.choice(["реклама", "друзья"]),
                    "telegram",
                    rnd.choice(["autumn", "winter"]),
                    rnd.choice(["да", "нет"]),
                ]
            )
        )
    return "\n".join(lines) + "\n"


async def recreate(url: str = URL) -> None:
    """A fresh database at ``url``, migrated to head."""
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()
    config = Config("alembic.ini")
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")


async def drop(url: str = URL) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await admin.close()


async def one_round(content: bytes, rows: int) -> tuple[float, float, float]:
    await recreate()
    settings = Settings(
        environment="test",
        database_url=URL,
        jwt_secret="b" * 48,
        max_body_bytes=len(content) + 1024,
    )
    app = create_app(settings)
    async with app.state.sessionmaker() as session:
        admin = Member(email="admin@example.com", email_normalized="admin@example.com")
        session.add(admin)
        reviewers = [
            Member(
                email=f"r{i}@example.com",
                email_normalized=f"r{i}@example.com",
                company=f"Reviewer Co {i}",
            )
            for i in range(30)
        ]
        session.add_all(reviewers)
        await session.flush()
        session.add(MemberRole(member_id=admin.id, role="admin"))
        session.add_all(MemberRole(member_id=r.id, role="reviewer") for r in reviewers)
        await session.commit()
    token = app.state.token_codec.issue(admin.id, ["admin"], 0)
    headers = {"Authorization": f"Bearer {token}", "content-type": "text/csv"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=120) as client:
        started = time.perf_counter()
        first = await client.post("/api/v1/applications/import", headers=headers, content=content)
        import_seconds = time.perf_counter() - started
        assert first.status_code == 200 and first.json()["created"] == rows, first.text[:300]
        started = time.perf_counter()
        again = await client.post("/api/v1/applications/import", headers=headers, content=content)
        again_seconds = time.perf_counter() - started
        assert again.json()["unchanged"] == rows, again.text[:300]
    await app.state.engine.dispose()
    return import_seconds, again_seconds, await baseline(rows)


async def baseline(rows: int) -> float:
    parsed = make_url(URL)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    now = datetime.now(UTC)
    members = [
        (uuid.uuid4(), f"base{i}@example.com", f"base{i}@example.com", f"Base {i}", now)
        for i in range(rows)
    ]
    try:
        started = time.perf_counter()
        async with connection.transaction():
            await connection.executemany(
                "INSERT INTO member (id, email, email_normalized, full_name, expertise_tags, "
                "links, company_visibility, job_title_visibility, phone_visibility, "
                "email_visibility, status, token_version, version, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, '[]', '[]', 'nobody', 'nobody', 'nobody', 'nobody', "
                "'active', 0, 1, $5, $5)",
                members,
            )
            await connection.executemany(
                "INSERT INTO application (id, member_id, status, function, seniority, industry, "
                "experience_summary, reviewers_may_see_company, imported, version, created_at, "
                "updated_at, submitted_at) VALUES ($1, $2, 'submitted', 'CTO', 3, 'Retail', "
                "'Summary', false, true, 1, $3, $3, $3)",
                [(uuid.uuid4(), m[0], now) for m in members],
            )
        return time.perf_counter() - started
    finally:
        await connection.close()


async def main(rows: int, rounds: int) -> None:
    content = make_csv(rows).encode()
    results = []
    try:
        for _ in range(rounds):
            results.append(await one_round(content, rows))
    finally:
        await drop()
    for label, index in (
        ("import (new rows)", 0),
        ("same file again (unchanged)", 1),
        ("baseline: raw asyncpg inserts", 2),
    ):
        figures = [r[index] for r in results]
        print(
            f"{label:32} median {statistics.median(figures):6.2f} s   rounds "
            + ", ".join(f"{f:.2f}" for f in figures)
        )
    print(f"file: {rows} rows, {len(content) / 1024:.0f} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.rounds))
