"""Blind review masks the applicant's own company in what the reviewer reads, in every
spelling, when they did not consent; links under any usual domain too."""

import pytest

from app.reviews.blind import MASK, redact
from tests.applications.helpers import COMPLETE


@pytest.mark.parametrize(
    "text,company,left",
    [
        ("Руководил ИТ в ООО «Яндекс» пять лет", "Yandex LLC", "Руководил ИТ в [hidden] пять лет"),
        ("At Romashka LLC since 2019", 'ООО "Ромашка"', "At [hidden] since 2019"),
        ("Был в ПАО «Газпром нефть», теперь нет", "Gazprom Neft", "Был в [hidden], теперь нет"),
        ("Альфа-Страхование, не Альфа-Банк", "Альфа-Банк", "Альфа-Страхование, не [hidden]"),
    ],
)
def test_the_company_is_masked_in_any_spelling(text, company, left):
    assert redact(text, company=company) == left


def test_an_alias_is_masked_too_and_nothing_without_a_company():
    assert redact("Работаю в Сбере", company="Сбербанк", aliases={"sber": "sberbank"}) == (
        "Работаю в Сбере"  # "Сбере" is a declension, not the alias: no rule guesses it
    )
    assert redact("Работаю в Сбер", company="Сбербанк", aliases={"sber": "sberbank"}) == (
        f"Работаю в {MASK}"
    )
    assert redact("Работаю в Сбер", company=None) == "Работаю в Сбер"


@pytest.mark.parametrize("link", ["vk.cc/abc123", "anna.dev", "t.ly/x", "portfolio.site/me"])
def test_short_links_and_new_domains_are_masked(link):
    assert link not in (redact(f"See {link} for more") or "")


async def test_a_reviewer_never_reads_the_withheld_company(client, factory):
    council = [await factory.member("reviewer", company=f"Other {i}") for i in range(3)]
    applicant = await factory.member("applicant")
    text = "Eight years as CTO at ООО «Яндекс»; before that Yandex LLC. See vk.cc/zz9."
    created = await client.post(
        "/api/v1/applications",
        headers=applicant.headers,
        json={
            **COMPLETE,
            "company": "Yandex LLC",
            "experience_summary": text,
            "reviewers_may_see_company": False,
        },
    )
    application_id = created.json()["id"]
    await client.post(f"/api/v1/applications/{application_id}/submit", headers=applicant.headers)
    blind = await client.get(
        f"/api/v1/reviews/applications/{application_id}", headers=council[0].headers
    )
    assert blind.status_code == 200, blind.text
    body = blind.json()
    assert body["company"] is None
    for leak in ("Яндекс", "Yandex", "vk.cc"):
        assert leak not in blind.text
    assert body["experience_summary"].startswith("Eight years as CTO at [hidden]")
    # The original is never changed.
    mine = await client.get(f"/api/v1/applications/{application_id}", headers=applicant.headers)
    assert mine.json()["experience_summary"] == text
