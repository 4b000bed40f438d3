"""Shared steps: an applicant with a complete draft, reviewers, a full review."""

from typing import Any

COMPLETE = {
    "function": "CTO",
    "seniority": 4,
    "industry": "Retail",
    "years_in_management": 9,
    "team_size": 120,
    "company": "Acme",
    "job_title": "Chief Technology Officer",
    "experience_summary": "Led the platform rewrite of a retail chain.",
    "wants": "Peers to test decisions on",
    "gives": "Cloud migrations",
    "source": "ads",
    "utm_source": "telegram",
    "utm_campaign": "autumn",
    "reviewers_may_see_company": True,
}
SCORES_HIGH = {"managerial_experience": 5, "expertise_depth": 4, "peer_value": 4}
SCORES_LOW = {"managerial_experience": 1, "expertise_depth": 2, "peer_value": 2}


def review_body(scores: dict[str, int], recommendation: str = "approve") -> dict[str, Any]:
    return {
        "scores": scores,
        "recommendation": recommendation,
        "confidence": 4,
        "comment": "Solid track record.",
    }


async def draft(client, factory, **fields: Any):
    applicant = await factory.member("applicant", **fields)
    response = await client.post("/api/v1/applications", headers=applicant.headers, json=COMPLETE)
    assert response.status_code == 201, response.text
    return applicant, response.json()


async def reviewers(factory, count: int = 3, **fields: Any):
    return [await factory.member("reviewer", **fields) for _ in range(count)]


async def submitted(client, factory, reviewer_count: int = 3, **fields: Any):
    council = await reviewers(factory, reviewer_count)
    applicant, application = await draft(client, factory, **fields)
    response = await client.post(
        f"/api/v1/applications/{application['id']}/submit", headers=applicant.headers
    )
    assert response.status_code == 200, response.text
    return applicant, response.json(), council
