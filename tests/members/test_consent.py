"""Per-field consent (checklist P2): the owner shares only the title; others see the title
and not the company; a withdrawal holds on the very next request, in every view."""

OWNER = {"company": "Hidden Works", "job_title": "Chief Data Officer", "phone": "+7 900 111-22-33"}


async def _views(client, viewer, owner) -> list[dict]:
    """The owner as the viewer meets them: their profile and their directory entry."""
    single = (await client.get(f"/api/v1/members/{owner.id}", headers=viewer.headers)).json()
    listed = (
        await client.get("/api/v1/members", headers=viewer.headers, params={"q": "Consenting"})
    ).json()["items"]
    return [single, *listed]


async def test_title_only_then_withdrawn_on_the_next_request(client, factory):
    owner = await factory.member("member", full_name="Consenting Owner", **OWNER)
    viewer = await factory.member("member")
    shared = await client.patch(
        "/api/v1/me", headers=owner.headers, json={"privacy": {"job_title": "members"}}
    )
    assert shared.status_code == 200, shared.text
    views = await _views(client, viewer, owner)
    assert len(views) == 2
    for view in views:
        assert view["job_title"] == "Chief Data Officer"
        assert view["company"] is None and view["phone"] is None
        assert "Hidden Works" not in str(view)

    withdrawn = await client.patch(
        "/api/v1/me", headers=owner.headers, json={"privacy": {"job_title": "nobody"}}
    )
    assert withdrawn.status_code == 200
    for view in await _views(client, viewer, owner):  # the next request: delay 0
        assert view["job_title"] is None and view["company"] is None
    # The owner still sees their own values, and the history keeps both choices.
    me = (await client.get("/api/v1/me", headers=owner.headers)).json()
    assert me["job_title"] == "Chief Data Officer" and me["privacy"]["job_title"] == "nobody"
    history = (await client.get("/api/v1/me/consents", headers=owner.headers)).json()
    changes = [
        (c["field"], c["visibility"])
        for c in (history["items"] if isinstance(history, dict) else history)
    ]
    assert ("job_title", "members") in changes and ("job_title", "nobody") in changes
