"""CSV import: Russian and English headers, a report per row, idempotent by e-mail."""

import uuid

from sqlalchemy import func, select

from app.models.application import Application
from app.models.member import Member, MemberRole
from app.models.review import ReviewAssignment
from tests.conftest import outbox_events

RUSSIAN = (
    "ФИО;Почта;Телефон;Функция;Уровень;Отрасль;Компания;Должность;Опыт;"
    "Откуда узнали;utm_campaign;Согласие на показ компании и должности\n"
    "Иван Петров;ivan@example.com;+7 900 111-22-33;CTO;4;Ритейл;ООО Ромашка;ИТ-директор;"
    "Вёл платформу;реклама;осень;да\n"
    "Ольга Смирнова;olga@example.com;;CFO;director;Банки;;;Финансы;реклама;осень;нет\n"
    "Без почты;;;CTO;4;IT;;;;;;\n"
    "Плохой уровень;bad@example.com;;CTO;9;IT;;;;;;\n"
    ";;;;;;;;;;;\n"
    "Повтор;IVAN@example.com;;CTO;4;IT;;;;;;\n"
)


async def _import(client, admin, content, media_type="text/csv"):
    return await client.post(
        "/api/v1/applications/import",
        headers={**admin.headers, "content-type": media_type},
        content=content.encode(),
    )


class TestImport:
    async def test_report_per_row_and_idempotence(self, client, factory, db):
        admin = await factory.member("admin")
        for _ in range(3):
            await factory.member("reviewer")
        response = await _import(client, admin, RUSSIAN)
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["created"], report["updated"], report["unchanged"], report["errors"]) == (
            2,
            0,
            0,
            3,
        )
        rows = {r["row"]: r for r in report["rows"]}
        assert rows[2]["status"] == "created" and rows[3]["status"] == "created"
        assert rows[4]["status"] == "error" and "email" in rows[4]["errors"][0]
        assert rows[5]["status"] == "error" and "seniority" in rows[5]["errors"][0]
        assert 6 not in rows  # blank line skipped
        assert rows[7]["status"] == "error" and "line 2" in rows[7]["errors"][0]

        ivan = (
            await db.execute(select(Member).where(Member.email_normalized == "ivan@example.com"))
        ).scalar_one()
        assert ivan.full_name == "Иван Петров" and ivan.password_hash is None
        roles = list(
            (
                await db.execute(select(MemberRole.role).where(MemberRole.member_id == ivan.id))
            ).scalars()
        )
        assert roles == ["applicant"]
        application = (
            await db.execute(select(Application).where(Application.member_id == ivan.id))
        ).scalar_one()
        assert application.status == "in_review" and application.imported
        assert application.function == "CTO" and application.seniority == 4
        assert application.reviewers_may_see_company and application.utm_campaign == "осень"
        olga_app = await db.get(Application, uuid.UUID(rows[3]["application_id"]))
        assert olga_app.seniority == 3 and not olga_app.reviewers_may_see_company
        assignments = await db.scalar(select(func.count()).select_from(ReviewAssignment))
        assert assignments == 6
        events = await outbox_events(db, "application.submitted")
        assert len(events) == 2 and all(e.data["imported"] for e in events)

        again = (await _import(client, admin, RUSSIAN)).json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
        assert await db.scalar(select(func.count()).select_from(Application)) == 2
        assert await db.scalar(select(func.count()).select_from(ReviewAssignment)) == 6
        assert len(await outbox_events(db, "application.submitted")) == 2

        changed = RUSSIAN.replace("Вёл платформу", "Вёл платформу и команду")
        third = (await _import(client, admin, changed)).json()
        assert third["updated"] == 1 and third["unchanged"] == 1
        await db.refresh(application)
        assert application.experience_summary == "Вёл платформу и команду"

    async def test_english_headers_comma_separated(self, client, factory, db):
        admin = await factory.member("admin")
        existing = await factory.member("applicant", email="known@example.com")
        content = (
            "email,full_name,function,seniority,industry,experience_summary,source\n"
            'known@example.com,Known Person,CMO,C-level,Media,Brands,"ads, telegram"\n'
        )
        report = (await _import(client, admin, content)).json()
        assert report["created"] == 1
        application = (
            await db.execute(select(Application).where(Application.member_id == existing.id))
        ).scalar_one()
        assert application.source == "ads, telegram" and application.seniority == 4
        assert application.status == "submitted"  # no reviewers in this council yet

    async def test_members_and_decided_are_refused(self, client, factory):
        admin = await factory.member("admin")
        await factory.member("member", email="member@example.com")
        content = "email,full_name\nmember@example.com,M\n"
        report = (await _import(client, admin, content)).json()
        assert report["errors"] == 1 and "member" in report["rows"][0]["errors"][0]

    async def test_unreadable_files(self, client, factory):
        admin = await factory.member("admin")
        for content in ("", "name,phone\nA,1\n", "email,full_name\n" + "a@b.c,A\n" * 3):
            response = await _import(client, admin, content)
            if content.count("\n") > 2:
                assert response.status_code == 200
                continue
            assert response.status_code == 422
            assert response.json()["type"] == "/problems/csv-unreadable"
        not_utf8 = await client.post(
            "/api/v1/applications/import",
            content=b"email\xff\n",
            headers={**admin.headers, "content-type": "text/csv"},
        )
        assert not_utf8.status_code == 422
        as_json = await _import(client, admin, "{}", media_type="application/json")
        assert as_json.status_code == 415

    async def test_row_limit(self, client, factory, app):
        admin = await factory.member("admin")
        previous = app.state.settings.application_import_max_rows
        app.state.settings.application_import_max_rows = 2
        try:
            content = "email,full_name\n" + "".join(f"p{i}@example.com,P\n" for i in range(3))
            response = await _import(client, admin, content)
        finally:
            app.state.settings.application_import_max_rows = previous
        assert response.status_code == 422 and "more than 2" in response.json()["detail"]


class TestSeasonSizedFile:
    async def test_a_season_export_past_the_general_limit_is_imported(self, client, factory, db):
        """2,450 rows (about 1.4 MB, past the 1 MiB general body limit) in one import."""
        admin = await factory.member("admin")
        rows = "".join(
            f"p{i}@example.com,Person {i},CTO,3,Retail,{'Led a large platform team. ' * 20}\n"
            for i in range(2450)
        )
        content = "email,full_name,function,seniority,industry,experience_summary\n" + rows
        assert len(content.encode()) > 1024 * 1024
        response = await _import(client, admin, content)
        assert response.status_code == 200, response.text[:300]
        assert response.json()["created"] == 2450
        assert await db.scalar(select(func.count()).select_from(Application)) == 2450

    async def test_past_its_own_limit_is_413_before_authentication(self, client, app):
        limit = app.state.settings.application_import_max_bytes
        body = b"email,full_name\n" + b"x" * limit
        declared = await client.post(
            "/api/v1/applications/import", content=body, headers={"content-type": "text/csv"}
        )
        assert declared.status_code == 413

        async def chunks():
            for start in range(0, len(body), 256 * 1024):
                yield body[start : start + 256 * 1024]

        streamed = await client.post(
            "/api/v1/applications/import", content=chunks(), headers={"content-type": "text/csv"}
        )
        assert streamed.status_code == 413
        # Other routes keep the general limit.
        other = await client.post(
            "/api/v1/auth/login",
            content=b"{" + b" " * (app.state.settings.max_body_bytes + 1) + b"}",
            headers={"content-type": "application/json"},
        )
        assert other.status_code == 413
