"""No oracles (checklist P3): nobody filters, sorts or searches by a field they cannot see.

For every list route the app serves and every role that is not an admin, each private field
(and the names a client might guess for it) is tried as a filter and as a sort key, with the
hidden value itself and with a value nobody has; a search for the hidden value is compared
with a search for nothing. Each answer must be a 422 or the same as without the parameter,
and the hidden value must never answer differently from a value nobody has: then no hidden
value can be inferred.
"""

from typing import Any

import httpx
import pytest

from tests.security.openapi import document

CANARY = {
    "company": "CANARY-COMPANY-7f3a",
    "job_title": "CANARY-TITLE-9b1c",
    "phone": "+79990007731",
    "email": "canary-e8d2@example.com",
}
# The private fields, then what a client might guess them to be called.
GUESSES = {
    "company": "company",
    "job_title": "job_title",
    "title": "job_title",
    "workplace": "company",
    "phone": "phone",
    "email": "email",
}
NOBODY_HAS = "zz-no-such-value-41"
# Facilitators list nothing more than members without an event id in the path.
ROLES = ["applicant", "member", "reviewer"]


def _lists() -> list[tuple[str, list[str]]]:
    """Every GET route without path parameters that takes query parameters."""
    found = []
    for path, item in sorted(document()["paths"].items()):
        operation = item.get("get")
        if operation and "{" not in path:
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            if names:
                found.append((path, names))
    return found


LISTS = _lists()


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    """Status and body, without what differs between any two requests."""
    if "json" not in response.headers.get("content-type", ""):
        return response.status_code, response.text  # the CSV export
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("request_id", "instance")}
    return response.status_code, body


def test_the_lists_are_found():
    paths = [path for path, _ in LISTS]
    assert "/api/v1/members" in paths and "/api/v1/cases" in paths and len(paths) >= 10


@pytest.mark.parametrize("role", ROLES)
async def test_hidden_fields_answer_nothing(client, factory, role):
    owner = await factory.member("member", full_name="Owner Canary", **CANARY)
    for i in range(3):
        await factory.member(
            "member", full_name=f"Plain {i}", company=f"Other {i}", job_title="CTO"
        )
    viewer = await factory.member(role)
    tried = 0
    for path, names in LISTS:
        baseline = _comparable(await client.get(path, headers=viewer.headers))
        assert baseline[0] in (200, 403), (path, baseline)
        if baseline[0] == 403:
            continue  # the role may not list this at all
        probes: list[tuple[dict[str, str], dict[str, str]]] = []
        for guess, field in GUESSES.items():
            probes.append(({guess: CANARY[field]}, {guess: NOBODY_HAS}))
        if "q" in names:
            for value in CANARY.values():
                probes.append(({"q": value}, {"q": NOBODY_HAS}))
        for hidden, nothing in probes:
            with_hidden = _comparable(await client.get(path, headers=viewer.headers, params=hidden))
            with_nothing = _comparable(
                await client.get(path, headers=viewer.headers, params=nothing)
            )
            tried += 1
            assert with_hidden == with_nothing, (role, path, hidden)
            if with_hidden[0] != 422 and "q" not in hidden:
                assert with_hidden == baseline, (role, path, hidden, "filtered")
        for field in ("company", "-job_title", "phone", "-email"):
            # Sorting by a hidden field would order people by it: refused or ignored.
            sorted_by = _comparable(
                await client.get(path, headers=viewer.headers, params={"sort": field})
            )
            tried += 1
            assert sorted_by[0] == 422 or sorted_by == baseline, (role, path, field)
    assert tried > 50
    # The owner is still there to be found by what members may search: their name.
    if role != "applicant":
        found = await client.get(
            "/api/v1/members", headers=viewer.headers, params={"q": "Owner Canary"}
        )
        assert [m["id"] for m in found.json()["items"]] == [str(owner.id)]


async def test_admins_may_filter_by_company_and_it_is_audited(client, factory, db):
    """The other side: the filter exists, so the refusal above is a refusal, not a typo."""
    admin = await factory.member("admin")
    owner = await factory.member("member", **CANARY)
    found = await client.get(
        "/api/v1/members", headers=admin.headers, params={"company": CANARY["company"]}
    )
    assert [m["id"] for m in found.json()["items"]] == [str(owner.id)]
    member = await factory.member("member")
    refused = await client.get(
        "/api/v1/members", headers=member.headers, params={"company": CANARY["company"]}
    )
    assert refused.status_code == 422 and CANARY["company"] not in refused.text
