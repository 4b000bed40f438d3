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


async def test_an_admin_edits_what_reviewers_read_until_the_first_review(client, factory, db):
    from tests.applications.helpers import SCORES_HIGH, review_body

    admin = await factory.member("admin")
    council = [await factory.member("reviewer", company=f"Other {i}") for i in range(3)]
    applicant = await factory.member("applicant")
    text = "CTO of the biggest grocer in Kazan (everybody knows which one)."
    created = await client.post(
        "/api/v1/applications",
        headers=applicant.headers,
        json={**COMPLETE, "experience_summary": text, "reviewers_may_see_company": False},
    )
    application_id = created.json()["id"]
    await client.post(f"/api/v1/applications/{application_id}/submit", headers=applicant.headers)
    url = f"/api/v1/reviews/applications/{application_id}/blind-copy"
    before = await client.get(url, headers=admin.headers)
    assert before.json()["experience_summary"] == text and before.json()["edited"] is False
    edited = await client.put(
        url, headers=admin.headers, json={"experience_summary": "CTO of a large retailer."}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["edited"] is True
    reviewer = council[0]
    blind = await client.get(
        f"/api/v1/reviews/applications/{application_id}", headers=reviewer.headers
    )
    assert blind.json()["experience_summary"] == "CTO of a large retailer."
    assert blind.json()["wants"] == COMPLETE["wants"]  # left out: the masked original
    own = await client.get(f"/api/v1/applications/{application_id}", headers=applicant.headers)
    assert own.json()["experience_summary"] == text
    assert (await client.put(url, headers=reviewer.headers, json={})).status_code == 403
    await client.post(
        f"/api/v1/applications/{application_id}/reviews",
        headers=reviewer.headers,
        json=review_body(SCORES_HIGH),
    )
    late = await client.put(url, headers=admin.headers, json={"wants": "Anything"})
    assert late.status_code == 409 and late.json()["type"] == "/problems/reviews-started"
