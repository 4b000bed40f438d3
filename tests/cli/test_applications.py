"""`dl applications import / stats` and `dl reviews assign / progress`."""

import json
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.cli import applications as cli_applications
from app.cli.applications import split_csv
from app.models.application import Application
from app.models.review import ReviewAssignment
from tests.cli.conftest import committed_people

# Line numbers matter: Ivan's experience spans lines 2-3, so his row is line 3.
FORM = (
    "ФИО;Почта;Функция;Уровень;Отрасль;Опыт\n"
    'Иван Петров;ivan@example.com;CTO;4;Retail;"Вёл команду\nиз 80 человек"\n'
    "Без почты;;CTO;4;Retail;x\n"
    "Анна Смирнова;anna@example.com;CIO;3;Banking;Ran IT of a bank\n"
    "Ольга Козлова;olga@example.com;CDO;5;Retail;Digital channels\n"
    "Павел Орлов;pavel@example.com;CTO;9;Retail;Too senior\n"
)


def test_split_keeps_records_whole_and_maps_lines_back():
    parts = split_csv(FORM.encode(), rows_per_part=2)
    assert [p.records for p in parts] == [2, 2, 1]
    header = FORM.split("\n", 1)[0] + "\n"
    assert all(p.body.decode().startswith(header) for p in parts)
    assert 'из 80 человек"\nБез почты' in parts[0].body.decode()
    # Anna is line 2 of the second part and line 5 of the file.
    assert parts[1].body.decode().splitlines()[1].startswith("Анна")
    assert 2 + parts[1].line_shift == 5
    assert 2 + parts[2].line_shift == 7

    by_size = split_csv(FORM.encode(), bytes_per_part=1)  # never less than one record a part
    assert [p.records for p in by_size] == [1, 1, 1, 1, 1]

    unreadable = "Почта\n".encode("cp1251")
    assert [(p.body, p.records) for p in split_csv(unreadable)] == [(unreadable, 0)]


@pytest.fixture
async def reviewers(engine):
    return await committed_people(engine, 4, "reviewer", prefix="Reviewer")


async def test_import_in_parts_reports_file_lines_and_creates_applications(
    dl, engine, reviewers, tmp_path, monkeypatch
):
    monkeypatch.setattr(cli_applications, "ROWS_PER_PART", 2)
    sent: list[int] = []

    def spy(content: bytes, **sizes: int) -> list:
        parts = split_csv(content, **sizes)
        sent.append(len(parts))
        return parts

    monkeypatch.setattr(cli_applications, "split_csv", spy)
    form = tmp_path / "form.csv"
    form.write_bytes(b"\xef\xbb\xbf" + FORM.encode())  # spreadsheets add a BOM

    result = await dl("applications", "import", str(form))
    assert result.exit_code == 0, result.stderr
    assert "created 3, updated 0, unchanged 0, errors 2" in result.stdout
    assert "ivan@example.com" in result.stdout and "seniority" in result.stdout
    assert sent == [3]  # three requests of two, two and one rows

    report = await dl.json("applications", "import", str(form))
    assert (report["created"], report["unchanged"], report["errors"]) == (0, 3, 2)
    assert [(r["row"], r["status"]) for r in report["rows"]] == [
        (3, "unchanged"),
        (4, "error"),
        (5, "unchanged"),
        (6, "unchanged"),
        (7, "error"),
    ]
    assert report["rows"][4]["email"] == "pavel@example.com"

    errors_only = await dl("applications", "import", str(form), "--errors-only")
    assert "pavel@example.com" in errors_only.stdout
    assert "anna@example.com" not in errors_only.stdout

    async with async_sessionmaker(engine)() as session:
        applications = list((await session.execute(select(Application))).scalars())
    assert len(applications) == 3
    assert {a.status for a in applications} == {"in_review"}  # reviewers were assigned

    stats = await dl.json("applications", "stats")
    assert stats["total"] == 3 and stats["by_status"]["in_review"] == 3
    human = await dl("applications", "stats")
    assert human.exit_code == 0, human.stderr
    assert "Reviews outstanding" in human.stdout and "Reviewer 00" in human.stdout


async def test_import_from_stdin_and_an_unreadable_file(dl, reviewers):
    result = await dl("applications", "import", "-", "--json", input=FORM)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 3

    bad = await dl("applications", "import", "-", input="name\nx\n")
    assert bad.exit_code == 1 and "CSV file unreadable" in bad.stderr

    missing = await dl("applications", "import", "/nonexistent/form.csv")
    assert missing.exit_code == 2


async def test_reviews_assign_and_progress(dl, engine, reviewers):
    await dl("applications", "import", "-", input=FORM)
    async with async_sessionmaker(engine)() as session:
        application = (await session.execute(select(Application).limit(1))).scalar_one()
        assigned = {
            a.reviewer_id
            for a in (
                await session.execute(
                    select(ReviewAssignment).where(
                        ReviewAssignment.application_id == application.id
                    )
                )
            ).scalars()
        }
    spare = next(r for r in reviewers if r.id not in assigned)
    leaving = next(iter(assigned))
    names = {r.id: r.full_name for r in reviewers}

    progress = await dl("reviews", "progress", str(application.id))
    assert progress.exit_code == 0, progress.stderr
    assert "0 of 3" in progress.stdout
    assert all(names[r] in progress.stdout for r in assigned)

    moved = await dl.json(
        "reviews", "assign", str(application.id), "--remove", str(leaving), "--add", str(spare.id)
    )
    by_reviewer = {uuid.UUID(a["reviewer_id"]): a["status"] for a in moved}
    assert by_reviewer[leaving] == "removed" and by_reviewer[spare.id] == "active"
    async with async_sessionmaker(engine)() as session:
        rows = {
            a.reviewer_id: a.status
            for a in (
                await session.execute(
                    select(ReviewAssignment).where(
                        ReviewAssignment.application_id == application.id
                    )
                )
            ).scalars()
        }
    assert rows[leaving] == "removed" and rows[spare.id] == "active"

    overall = await dl("reviews", "progress")
    assert overall.exit_code == 0, overall.stderr
    assert all(r.full_name in overall.stdout for r in reviewers)
    stats = await dl.json("reviews", "progress")
    loads = {uuid.UUID(s["reviewer_id"]): s["open_assignments"] for s in stats["items"]}
    assert sum(loads.values()) == 9 and loads[spare.id] >= 1

    again = await dl("reviews", "assign", str(application.id), "--remove", str(leaving))
    assert again.exit_code == 1  # no longer theirs: the API refuses, the title is printed
    assert "Error (" in again.stderr
