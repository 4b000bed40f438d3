"""Members to CRM contacts against the fake portal: matching, minimal updates, consent,
erasure, the batched full sync under the real rate limit, outages and reconciliation."""

import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete, event, select

from app.integrations.bitrix24 import service
from app.integrations.bitrix24.client import Bitrix24RetryLater
from app.integrations.bitrix24.service import Outcome
from app.models.crm import CrmLink
from app.models.member import Member
from tests.integrations.bitrix24.conftest import make_client
from tests.integrations.bitrix24.fake import Outage

OPEN = {
    "company_visibility": "members",
    "job_title_visibility": "members",
    "phone_visibility": "members",
    "email_visibility": "members",
}


async def links(db) -> dict:
    return {link.subject_id: link for link in (await db.execute(select(CrmLink))).scalars()}


class TestSyncMember:
    async def test_creates_a_contact_after_looking_it_up_by_email(self, db, factory, crm, fake):
        actor = await factory.member(
            full_name="Anna Ivanova",
            email="Anna@Example.com",
            company="Acme",
            job_title="CTO",
            phone="+7 900 1234567",
            **OPEN,
        )
        assert await service.sync_member(db, crm, actor.id) is Outcome.created
        assert fake.methods() == ["crm.duplicate.findbycomm", "crm.contact.add"]
        assert fake.requests[0][1] == {
            "entity_type": "CONTACT",
            "type": "EMAIL",
            "values": ["anna@example.com"],
        }
        contact = fake.contacts[1]
        assert (
            contact["NAME"],
            contact["LAST_NAME"],
            contact["POST"],
            contact["COMPANY_TITLE"],
        ) == ("Anna", "Ivanova", "CTO", "Acme")
        assert contact["EMAIL"][0]["VALUE"] == "anna@example.com"
        assert contact["PHONE"][0]["VALUE"] == "+79001234567"
        assert (contact["ORIGINATOR_ID"], contact["ORIGIN_ID"]) == (
            "digital-leaders",
            str(actor.id),
        )
        link = (await links(db))[actor.id]
        assert (link.subject_type, link.crm_entity, link.crm_id) == ("member", "contact", 1)

    async def test_second_run_makes_no_request(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN, company="Acme")
        await service.sync_member(db, crm, actor.id)
        before = len(fake.requests)
        assert await service.sync_member(db, crm, actor.id) is Outcome.unchanged
        assert len(fake.requests) == before and len(fake.contacts) == 1

    async def test_links_the_lowest_existing_contact_with_that_email(self, db, factory, crm, fake):
        fake.seed(NAME="Old", EMAIL=[{"VALUE": "other@x.ru"}])
        first = fake.seed(
            NAME="Anna",
            LAST_NAME="Ivanova",
            COMMENTS="VIP",
            EMAIL=[{"VALUE": "ANNA@x.ru", "VALUE_TYPE": "HOME"}],
        )
        fake.seed(NAME="Anna dup", EMAIL=[{"VALUE": "anna@x.ru"}])
        actor = await factory.member(
            full_name="Anna Ivanova", email="anna@x.ru", email_visibility="members"
        )
        assert await service.sync_member(db, crm, actor.id) is Outcome.linked
        assert fake.methods() == [
            "crm.duplicate.findbycomm",
            "batch:crm.contact.get",
            "batch:crm.contact.get",
            "crm.contact.update",
        ]
        # Only what the contact lacked: our id. Its e-mail entry and comments stay.
        assert fake.requests[-1][1]["fields"] == {
            "ORIGINATOR_ID": "digital-leaders",
            "ORIGIN_ID": str(actor.id),
        }
        assert len(fake.contacts) == 3 and fake.contacts[first]["COMMENTS"] == "VIP"
        assert fake.contacts[first]["EMAIL"] == [
            {
                "ID": fake.contacts[first]["EMAIL"][0]["ID"],
                "TYPE_ID": "EMAIL",
                "VALUE": "ANNA@x.ru",
                "VALUE_TYPE": "HOME",
            }
        ]
        assert (await links(db))[actor.id].crm_id == first

    async def test_updates_only_the_changed_field(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN, company="Acme", job_title="CTO")
        await service.sync_member(db, crm, actor.id)
        member = await db.get(Member, actor.id)
        member.job_title = "CIO"
        await db.flush()
        fake.requests.clear()
        assert await service.sync_member(db, crm, actor.id) is Outcome.updated
        assert fake.requests == [
            (
                "crm.contact.update",
                {"id": 1, "fields": {"POST": "CIO"}, "params": {"REGISTER_SONET_EVENT": "N"}},
            )
        ]
        assert fake.contacts[1]["POST"] == "CIO" and fake.contacts[1]["COMPANY_TITLE"] == "Acme"

    async def test_without_email_consent_matches_by_our_id_and_never_sends_it(
        self, db, factory, crm, fake
    ):
        actor = await factory.member(email="secret-mail@example.com")
        assert await service.sync_member(db, crm, actor.id) is Outcome.created
        assert fake.methods() == ["crm.contact.list", "crm.contact.add"]
        assert fake.requests[0][1]["filter"] == {
            "ORIGINATOR_ID": "digital-leaders",
            "ORIGIN_ID": str(actor.id),
        }
        assert "secret-mail" not in "".join(fake.bodies)
        # The link lost (a crash after the CRM said yes): found by our id, not created twice.
        await db.execute(delete(CrmLink))
        assert await service.sync_member(db, crm, actor.id) is Outcome.linked
        assert len(fake.contacts) == 1

    async def test_withdrawn_consent_removes_the_values_from_the_crm(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN, company="Acme", phone="+7 900 1234567")
        await service.sync_member(db, crm, actor.id)
        fake.contacts[1]["PHONE"].append(
            {"ID": "555", "TYPE_ID": "PHONE", "VALUE": "+7 111", "VALUE_TYPE": "HOME"}
        )
        member = await db.get(Member, actor.id)
        member.phone_visibility = member.company_visibility = "nobody"
        await db.flush()
        assert await service.sync_member(db, crm, actor.id) is Outcome.updated
        contact = fake.contacts[1]
        assert contact["COMPANY_TITLE"] == ""
        # Our phone is gone; the one the CRM's users typed stays.
        assert [e["VALUE"] for e in contact["PHONE"]] == ["+7 111"]
        assert contact["EMAIL"][0]["VALUE"] == actor.member.email.lower()

    async def test_erased_member_is_never_created(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN, erased_at=datetime.now(UTC), status="left")
        assert await service.sync_member(db, crm, actor.id) is Outcome.skipped
        assert fake.requests == [] and await links(db) == {}

    async def test_erasure_deletes_the_contact_once(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN)
        await service.sync_member(db, crm, actor.id)
        member = await db.get(Member, actor.id)
        member.erased_at = datetime.now(UTC)
        await db.flush()
        assert await service.sync_member(db, crm, actor.id) is Outcome.deleted
        assert fake.contacts == {} and await links(db) == {}
        before = len(fake.requests)
        assert await service.sync_member(db, crm, actor.id) is Outcome.skipped
        assert len(fake.requests) == before

    async def test_contact_deleted_in_the_crm_is_created_again(self, db, factory, crm, fake):
        actor = await factory.member(**OPEN, job_title="CTO")
        await service.sync_member(db, crm, actor.id)
        fake.contacts.clear()
        member = await db.get(Member, actor.id)
        member.job_title = "CEO"
        await db.flush()
        assert await service.sync_member(db, crm, actor.id) is Outcome.created
        (new_id,) = fake.contacts
        assert fake.contacts[new_id]["POST"] == "CEO"
        assert (await links(db))[actor.id].crm_id == new_id

    async def test_refused_value_raises_and_stores_no_link(self, db, factory, crm, fake):
        actor = await factory.member(email="not-an-email", email_visibility="members")
        with pytest.raises(service.Bitrix24Error) as error:
            await service.sync_member(db, crm, actor.id)
        assert error.value.code == "ERROR_CORE"
        assert await links(db) == {}


CANARIES = {
    "company": "CANARY-COMPANY-7f3",
    "job_title": "CANARY-TITLE-7f3",
    "phone": "+7 000 777 33 99",
    "email": "canary-7f3@example.com",
}


async def test_no_field_the_consent_forbids_reaches_the_crm(db, factory, crm, fake):
    """Canary scan: every private field set to a marker, consent `nobody` or `table`; the full
    sync, an update and a reconciliation send nothing of them."""
    for i, visibility in enumerate(["nobody", "table"] * 3):
        await factory.member(
            full_name=f"Public Name{i}",
            email=f"{i}{CANARIES['email']}",
            company=CANARIES["company"],
            job_title=CANARIES["job_title"],
            phone=CANARIES["phone"],
            **{f"{f}_visibility": visibility for f in CANARIES},
        )
    opened = await factory.member(
        company="Open Co",
        company_visibility="public",
        job_title=CANARIES["job_title"],
        phone=CANARIES["phone"],
        email=f"x{CANARIES['email']}",
    )
    await service.full_sync(db, crm)
    member = await db.get(Member, opened.id)
    member.company = "Open Co 2"
    await db.flush()
    await service.sync_member(db, crm, opened.id)
    await service.reconcile(db, crm)
    sent = fake.sent_text()
    assert "Name0" in sent and "Open Co 2" in sent  # the scan sees what is sent
    for canary in ("CANARY", "7773399", "777 33", "canary-7f3"):
        assert canary.lower() not in sent.lower()
    assert len(fake.contacts) == 7


async def _members(factory, count: int, **fields) -> list:
    return [
        await factory.member(full_name=f"Member {i:04d} Test", **OPEN, job_title="CTO", **fields)
        for i in range(count)
    ]


class TestFullSync:
    async def test_batched_sync_within_the_limit_then_nothing_to_do(self, db, factory, crm, fake):
        actors = await _members(factory, 120)
        report = await service.full_sync(db, crm)
        assert (report.members_seen, report.created, report.failed) == (120, 120, 0)
        # 1 listing of ours, 1 batch of 6 findbycomm (20 e-mails each), 3 batches of adds.
        assert report.requests == 5 and fake.rejected == 0 and fake.max_level <= 50
        assert fake.methods().count("batch:crm.duplicate.findbycomm") == 6
        assert fake.methods().count("batch:crm.contact.add") == 120
        stored = await links(db)
        assert {a.id for a in actors} == set(stored)
        assert {link.crm_id for link in stored.values()} == set(fake.contacts)
        again = await service.full_sync(db, crm)
        assert (again.unchanged, again.created, again.updated, again.requests) == (120, 0, 0, 0)

    async def test_resumes_without_duplicates(self, db, factory, crm, fake):
        await _members(factory, 60)
        await service.full_sync(db, crm)
        await db.execute(delete(CrmLink))  # as if the run died before committing
        report = await service.full_sync(db, crm)
        assert (report.created, report.linked) == (0, 60)
        assert len(fake.contacts) == 60 and len(await links(db)) == 60

    async def test_updates_and_erasures_in_bulk(self, db, factory, crm, fake):
        actors = await _members(factory, 30)
        await service.full_sync(db, crm)
        for actor in actors[:10]:
            (await db.get(Member, actor.id)).job_title = "CEO"
        for actor in actors[10:15]:
            (await db.get(Member, actor.id)).erased_at = datetime.now(UTC)
        await db.flush()
        fake.requests.clear()
        report = await service.full_sync(db, crm)
        assert (report.updated, report.deleted, report.unchanged) == (10, 5, 15)
        assert fake.methods().count("batch:crm.contact.update") == 10
        assert sum(c.get("POST") == "CEO" for c in fake.contacts.values()) == 10
        assert len(fake.contacts) == 25

    async def test_rate_limit_never_exceeded_with_a_small_bucket(self, db, factory, fake, clock):
        """A portal that allows bursts of 3 only: the client paces itself, never refused."""
        fake.capacity = 3
        await _members(factory, 130)
        async with httpx.AsyncClient(transport=fake.transport()) as http:
            client = make_client(http, clock, burst=3)
            report = await service.full_sync(db, client)
        assert report.created == 130 and fake.rejected == 0 and fake.max_level <= 3
        assert clock.slept and client.stats.retries == 0

    async def test_outage_backs_off_then_completes(self, db, factory, crm, fake, clock):
        await _members(factory, 80)
        fake.outage = Outage(until=clock.now + 7.2)  # four backoff steps cover it
        report = await service.full_sync(db, crm)
        assert report.created == 80 and report.retries >= 3
        assert len(fake.contacts) == 80 and len(await links(db)) == 80

    async def test_long_outage_asks_to_retry_later_then_resumes(
        self, db, factory, crm, fake, clock
    ):
        await _members(factory, 80)
        await service.full_sync(db, crm, chunk_size=40)  # warm: 40 + 40 created
        for member in (await db.execute(select(Member))).scalars():
            member.job_title = "CFO"
        await db.flush()
        fake.outage = Outage(until=clock.now + 600)
        with pytest.raises(Bitrix24RetryLater) as later:
            await service.full_sync(db, crm)
        assert 0 < later.value.retry_after <= 60
        clock.now += 600
        report = await service.full_sync(db, crm)
        assert report.updated == 80 and report.failed == 0
        assert len(fake.contacts) == 80
        assert all(c["POST"] == "CFO" for c in fake.contacts.values())


async def test_reconciliation_reports_every_kind_of_difference(db, factory, crm, fake):
    actors = await _members(factory, 5)
    await service.full_sync(db, crm)
    stored = await links(db)
    unsynced = await factory.member(full_name="New Person")
    fake.contacts[stored[actors[0].id].crm_id]["POST"] = "Edited in CRM"
    del fake.contacts[stored[actors[1].id].crm_id]
    stray = fake.seed(
        NAME="Stray",
        ORIGINATOR_ID="digital-leaders",
        ORIGIN_ID="00000000-0000-0000-0000-000000000001",
    )
    fake.seed(NAME="Someone else's contact")
    fake.requests.clear()
    report = await service.reconcile(db, crm)
    assert {m.split(":")[-1] for m in fake.methods()} <= {"crm.contact.list", "crm.contact.get"}
    assert report.missing_in_crm == [unsynced.id]
    assert [(b.member_id, b.crm_id) for b in report.link_broken] == [
        (actors[1].id, stored[actors[1].id].crm_id)
    ]
    assert report.missing_here == [stray]
    assert [(d.member_id, d.fields) for d in report.field_differences] == [(actors[0].id, ["POST"])]
    assert (report.members, report.in_sync, report.contacts_in_crm) == (6, 3, 5)
    assert "Edited in CRM" not in json.dumps(report.model_dump(mode="json"))


async def test_round_writes_come_after_its_crm_calls_and_each_round_checkpoints(
    db, factory, fake, clock, engine
):
    """On SQLite the first write takes the database's only write lock: a round writes nothing
    while it waits for Bitrix24, and the worker commits after every round."""
    actors = await _members(factory, 25)
    timeline: list[str] = []

    def on_sql(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            timeline.append("write")

    async def handler(request: httpx.Request) -> httpx.Response:
        timeline.append("crm")
        return fake.handle(request)

    checkpoints: list[int] = []

    async def checkpoint() -> None:
        checkpoints.append(len(timeline))
        timeline.append("checkpoint")

    event.listen(engine.sync_engine, "before_cursor_execute", on_sql)
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            report = await service.full_sync(
                db, make_client(http, clock), chunk_size=10, checkpoint=checkpoint
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_sql)
    assert report.created == 25 and len(checkpoints) == 3
    rounds = "".join({"crm": "c", "write": "w", "checkpoint": "|"}[e] for e in timeline)
    for part in rounds.split("|")[:-1]:
        assert "w" in part and "c" not in part[part.index("w") :], rounds
    assert len(await links(db)) == len(actors)


async def test_commands_refused_for_a_passing_reason_defer_the_run(db, factory, crm, fake, clock):
    """OPERATION_TIME_LIMIT on the adds inside a batch (the request itself succeeds): the
    round keeps what succeeded, the run is asked to come back, and nothing is counted failed
    or duplicated when it does."""
    actors = await _members(factory, 60)
    first = sorted(a.id for a in actors)[0]
    (await db.get(Member, first)).job_title = "before"
    await db.flush()
    await service.sync_member(db, crm, first)  # one contact exists, linked
    (await db.get(Member, first)).job_title = "after"
    await db.flush()
    fake.command_errors["crm.contact.add"] = ("OPERATION_TIME_LIMIT", "Method is blocked")
    with pytest.raises(Bitrix24RetryLater) as later:
        await service.full_sync(db, crm)
    assert later.value.retry_after == 60 and later.value.cause.code == "OPERATION_TIME_LIMIT"
    assert fake.contacts[1]["POST"] == "after"  # the update in the same round went through
    assert len(await links(db)) == 1
    fake.command_errors.clear()
    report = await service.full_sync(db, crm)
    assert (report.created, report.unchanged, report.failed) == (59, 1, 0)
    assert len(fake.contacts) == 60 and len(await links(db)) == 60


async def test_a_sub_call_refused_without_a_code_is_reported_in_the_portals_words(
    db, factory, crm, fake, caplog
):
    actors = await _members(factory, 3)
    fake.command_errors["crm.contact.add"] = ("", "Field EMAIL has a wrong format")
    with caplog.at_level("WARNING", logger="app.integrations.bitrix24"):
        report = await service.full_sync(db, crm)
    assert report.failed == 3
    assert report.error_codes == {"no code: Field EMAIL has a wrong format": 3}
    assert {f.member_id for f in report.failures} == {a.id for a in actors}
    assert {f.error for f in report.failures} == {"no code: Field EMAIL has a wrong format"}
    lines = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(lines) == 3 and all(str(a.id) in " ".join(lines) for a in actors)
    assert not any("@" in line for line in lines)  # ids, never addresses
