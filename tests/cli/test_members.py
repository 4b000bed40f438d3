"""`dl members list / show / export`: every page followed, filters passed on, files written."""

import csv
import io
import json

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.cli.members import FIELDS
from app.models.member import Member
from tests.cli.conftest import committed_people

PEOPLE = 230  # three pages of 100 (and the admin)


async def committed_members(engine, count: int) -> list[Member]:
    people = await committed_people(engine, count, "member", function="CTO")
    # Every third lives in Kazan, and each has a company only admins may see.
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        for i, person in enumerate(people):
            person.city = "Kazan" if i % 3 == 0 else "Moscow"
            person.company = f"Company {i}"
            session.add(person)
        await session.commit()
    return people


async def test_list_follows_every_cursor_and_stops_at_the_limit(dl, admin, engine):
    people = await committed_members(engine, PEOPLE)
    expected = {str(p.id) for p in people} | {str(admin[0].id)}

    everyone = await dl.json("members", "list")
    assert len(everyone) == len(expected)
    assert {m["id"] for m in everyone} == expected  # nothing skipped, nothing twice

    limited = await dl.json("members", "list", "--limit", "150", "--sort", "full_name")
    assert len(limited) == 150 and len({m["id"] for m in limited}) == 150
    assert [m["full_name"] for m in limited] == sorted(m["full_name"] for m in limited)

    kazan = await dl.json("members", "list", "--city", "Kazan")
    assert len(kazan) == len([p for p in people if p.city == "Kazan"])
    assert {m["city"] for m in kazan} == {"Kazan"}

    table = await dl("members", "list", "--city", "Kazan", "--limit", "3", "--sort", "full_name")
    assert table.exit_code == 0, table.stderr
    assert "3 members" in table.stdout
    assert "Member 000" in table.stdout and "Member 006" in table.stdout


async def test_export_csv_has_a_row_per_member_and_json_an_item_each(dl, admin, engine, tmp_path):
    people = await committed_members(engine, PEOPLE)
    target = tmp_path / "members.csv"
    result = await dl("members", "export", "--format", "csv", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert f"Exported {PEOPLE + 1} members to {target}" in result.stderr.replace("\n", "")
    assert not (tmp_path / "members.csv.part").exists()
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == PEOPLE + 1
    assert list(rows[0]) == FIELDS
    by_id = {row["id"]: row for row in rows}
    sample = people[7]
    # Admins see private fields: the export carries them.
    assert by_id[str(sample.id)]["email"] == sample.email
    assert by_id[str(sample.id)]["company"] == sample.company

    as_json = await dl("members", "export", "-f", "json", "--function", "CTO")
    assert as_json.exit_code == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert len(items) == PEOPLE and {i["function"] for i in items} == {"CTO"}


async def test_export_csv_cells_starting_like_a_formula_are_inert(dl, admin, engine, tmp_path):
    [person] = await committed_members(engine, 1)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        person.full_name = '=HYPERLINK("https://evil.example/","open")'
        person.city = "@SUM(A1:A9)"
        person.company = "\t=1+2"
        session.add(person)
        await session.commit()
    target = tmp_path / "members.csv"
    result = await dl("members", "export", "--format", "csv", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(target.read_text(encoding="utf-8")))}
    row = rows[str(person.id)]
    assert row["full_name"] == '\'=HYPERLINK("https://evil.example/","open")'
    assert (row["city"], row["company"]) == ("'@SUM(A1:A9)", "'\t=1+2")
    assert row["email"] == person.email  # a plain cell stays as it is
    # JSON is no spreadsheet: the values travel as they are.
    as_json = await dl("members", "export", "-f", "json")
    items = {i["id"]: i for i in json.loads(as_json.stdout)}
    assert items[str(person.id)]["full_name"] == person.full_name


async def test_show_by_id_and_by_email(dl, engine):
    [person] = await committed_members(engine, 1)
    by_id = await dl("members", "show", str(person.id))
    assert by_id.exit_code == 0, by_id.stderr
    assert person.full_name in by_id.stdout and person.email in by_id.stdout

    by_email = await dl.json("members", "show", person.email)
    assert by_email["id"] == str(person.id)

    nobody = await dl("members", "show", "nobody@example.com")
    assert nobody.exit_code == 1 and "No member with the e-mail" in nobody.stderr


async def test_invite_listed_and_all_pending_members(dl, engine):
    pending = await committed_people(engine, 5, "member", prefix="Pending")
    chosen = [str(p.id) for p in pending[:2]]

    listed = await dl.json("members", "invite", *chosen)
    assert (listed["sent"], listed["skipped"]) == (2, 0)
    assert {r["member_id"] for r in listed["results"]} == set(chosen)

    everyone = await dl.json("members", "invite", "--all-pending")
    # The two invited a moment ago are skipped as recent; the admin has a password already.
    assert (everyone["sent"], everyone["skipped"]) == (3, 2)
    assert {r["reason"] for r in everyone["results"] if not r["sent"]} == {"recent"}

    human = await dl("members", "invite", "--all-pending")
    assert human.exit_code == 0 and "0 invitations sent, 5 skipped." in human.stdout
    both = await dl("members", "invite", "--all-pending", chosen[0])
    assert both.exit_code == 2
    unknown = await dl("members", "invite", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code != 0 and "No such members" in unknown.stderr
