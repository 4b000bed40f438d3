"""Company identity through HTTP: the admins' aliases, and the rules that use them (reviewer
assignment, seating)."""

import uuid

from sqlalchemy import select

from app.models.audit import AuditEntry
from app.models.review import ReviewAssignment
from tests.applications.helpers import COMPLETE
from tests.tables.helpers import seated_event, tables_of

URL = "/api/v1/companies/aliases"


async def test_admins_keep_the_aliases(client, factory, db):
    admin = await factory.member("admin")
    member = await factory.member("member")
    saved = await client.put(
        URL,
        headers=admin.headers,
        json={"aliases": [{"alias": "Сбер", "company": "ПАО Сбербанк"}]},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["aliases"] == [
        {"alias": "Сбер", "company": "ПАО Сбербанк", "alias_key": "sber", "company_key": "sberbank"}
    ]
    assert (await client.get(URL, headers=admin.headers)).json() == saved.json()
    assert (await client.get(URL, headers=member.headers)).status_code == 403
    assert (await client.put(URL, headers=member.headers, json={"aliases": []})).status_code == 403
    for aliases in (
        [{"alias": "ООО", "company": "Сбербанк"}],  # nothing but a legal form
        [{"alias": "Yandex LLC", "company": "ООО «Яндекс»"}],  # the rules know it already
        [{"alias": "Сбер", "company": "Сбербанк"}, {"alias": "SBER", "company": "ВТБ"}],
        [{"alias": "Сбер", "company": "Сбербанк"}, {"alias": "Сбербанк", "company": "Банк"}],
    ):
        refused = await client.put(URL, headers=admin.headers, json={"aliases": aliases})
        assert refused.status_code == 422, aliases
    assert (await client.get(URL, headers=admin.headers)).json() == saved.json()
    db.expire_all()
    [entry] = (
        await db.execute(
            select(AuditEntry).where(AuditEntry.action == "companies.aliases_replaced")
        )
    ).scalars()
    assert entry.details == {"count": 1}


async def test_no_reviewer_from_the_applicants_company_in_any_spelling(client, factory, db):
    admin = await factory.member("admin")
    await client.put(
        URL, headers=admin.headers, json={"aliases": [{"alias": "Сбер", "company": "Сбербанк"}]}
    )
    colleague = await factory.member("reviewer", company="Yandex LLC")
    sber = await factory.member("reviewer", company="Сбер")
    others = [await factory.member("reviewer", company=f"Other {i}") for i in range(3)]
    for company, excluded in (("ООО «Яндекс»", colleague), ("ПАО Сбербанк", sber)):
        applicant = await factory.member("applicant")
        body = {**COMPLETE, "company": company}
        created = await client.post("/api/v1/applications", headers=applicant.headers, json=body)
        submitted = await client.post(
            f"/api/v1/applications/{created.json()['id']}/submit", headers=applicant.headers
        )
        assert submitted.status_code == 200, submitted.text
        db.expire_all()
        assigned = set(
            (
                await db.execute(
                    select(ReviewAssignment.reviewer_id).where(
                        ReviewAssignment.application_id == uuid.UUID(created.json()["id"])
                    )
                )
            ).scalars()
        )
        assert excluded.id not in assigned and assigned <= {o.id for o in others} | {
            colleague.id,
            sber.id,
        }


async def test_seating_keeps_one_company_apart_in_every_spelling(client, db, factory):
    admin = await factory.member("admin")
    await client.put(
        URL, headers=admin.headers, json={"aliases": [{"alias": "Сбер", "company": "Сбербанк"}]}
    )
    event, actors = await seated_event(client, db, factory, admin, 8, table_size=4)
    spellings = {0: 'ООО "Ромашка"', 1: "Romashka LLC", 2: "Сбер", 3: "ПАО «Сбербанк»"}
    for index, company in spellings.items():
        actors[index].member.company = company
        db.add(actors[index].member)
    await db.flush()
    generated = await client.post(
        f"/api/v1/events/{event['id']}/seating", headers=admin.headers, json={"seed": 3}
    )
    assert generated.status_code in (200, 201), generated.text
    for table in tables_of(generated.json()):
        assert not {str(actors[0].id), str(actors[1].id)} <= table
        assert not {str(actors[2].id), str(actors[3].id)} <= table
