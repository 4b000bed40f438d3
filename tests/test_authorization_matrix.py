"""Every route of the app, called as every role: the status each must get.

A route added without an entry here fails ``test_every_route_has_an_entry``. Calls carry no
body, so a role that passes authorization meets validation (422) on routes that need one.
"""

import pytest

from app.main import create_app
from tests.conftest import make_settings
from tests.paths import fill

ROLES = ["anonymous", "applicant", "member", "reviewer", "facilitator", "admin"]
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/invitations/accept"),
    ("GET", "/api/v1/public/events"),
    ("GET", "/api/v1/public/events/{event_id}"),
    ("POST", "/api/v1/registrations/confirm-link"),
    ("POST", "/api/v1/public/next-event-notice"),
    ("POST", "/api/v1/public/next-event-notice/confirm"),
    ("POST", "/api/v1/public/next-event-notice/unsubscribe"),
    ("POST", "/api/v1/notifications/unsubscribe"),
    ("GET", "/api/v1/calendar/{token}.ics"),
    ("POST", "/api/v1/integrations/timepad/webhook"),
    ("POST", "/api/v1/integrations/bitrix24/events"),
}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(status: int) -> dict[str, int]:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:], status)}


def admin_only(status: int) -> dict[str, int]:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:-1], 403), "admin": status}


def community(status: int) -> dict[str, int]:
    """Members and staff; applicants are refused."""
    return {"anonymous": 401, "applicant": 403, **dict.fromkeys(ROLES[2:], status)}


def only(role: str, status: int, **others: int) -> dict[str, int]:
    """Signed-in callers without ``role`` (or a role in ``others``) get 403."""
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:], 403), role: status, **others}


# (method, path) -> role -> status. {other} is another member, {self} the caller.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/healthz"): everyone(200),
    ("GET", "/readyz"): everyone(200),
    ("POST", "/api/v1/auth/signup"): everyone(422),
    ("POST", "/api/v1/auth/login"): everyone(422),
    ("POST", "/api/v1/auth/refresh"): everyone(422),
    ("POST", "/api/v1/auth/logout"): everyone(422),
    ("POST", "/api/v1/auth/logout-all"): signed_in(200),
    ("POST", "/api/v1/auth/verify-email"): everyone(422),
    ("POST", "/api/v1/auth/password-reset"): everyone(422),
    ("POST", "/api/v1/auth/password-reset/confirm"): everyone(422),
    ("POST", "/api/v1/auth/invitations/accept"): everyone(422),
    # Every caller here has a verified address: nothing more to send.
    ("POST", "/api/v1/auth/verification"): signed_in(409),
    ("POST", "/api/v1/auth/password"): signed_in(422),
    ("GET", "/api/v1/me"): signed_in(200),
    ("PATCH", "/api/v1/me"): signed_in(422),
    ("DELETE", "/api/v1/me"): {**signed_in(204), "admin": 403},
    ("GET", "/api/v1/me/consents"): signed_in(200),
    ("GET", "/api/v1/me/notifications"): signed_in(200),
    ("PUT", "/api/v1/me/notifications"): signed_in(422),
    # The token is the credential: without one, nobody gets further than the 422.
    ("POST", "/api/v1/notifications/unsubscribe"): everyone(422),
    ("GET", "/api/v1/me/calendar-feed"): community(200),
    ("POST", "/api/v1/me/calendar-feed/rotate"): community(200),
    ("DELETE", "/api/v1/me/calendar-feed"): community(204),
    ("POST", "/api/v1/me/next-event-notice"): community(200),
    ("POST", "/api/v1/events/{event_id}/messages/preview"): only("admin", 422, facilitator=422),
    ("POST", "/api/v1/events/{event_id}/messages"): only("admin", 422, facilitator=422),
    ("DELETE", "/api/v1/me/next-event-notice"): community(204),
    # The URL's secret is the credential; a made-up one of the wrong shape is a 422.
    ("GET", "/api/v1/calendar/{token}.ics"): everyone(422),
    ("GET", "/api/v1/me/export"): signed_in(200),
    ("GET", "/api/v1/me/tokens"): signed_in(200),
    ("POST", "/api/v1/me/tokens"): signed_in(422),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): signed_in(404),
    ("GET", "/api/v1/members"): signed_in(200),
    # Applicants see nobody but themselves: another member is "not found" to them.
    ("GET", "/api/v1/members/{member_id}"): {**signed_in(200), "applicant": 404},
    ("PATCH", "/api/v1/members/{member_id}"): admin_only(422),
    ("PUT", "/api/v1/members/{member_id}/roles"): admin_only(422),
    ("POST", "/api/v1/members/invitations"): admin_only(422),
    ("POST", "/api/v1/members/{member_id}/invitation"): admin_only(202),
    ("GET", "/api/v1/audit"): admin_only(200),
    ("GET", "/api/v1/admin/jobs"): admin_only(200),
    ("POST", "/api/v1/public/next-event-notice"): everyone(422),
    ("POST", "/api/v1/public/next-event-notice/confirm"): everyone(422),
    ("POST", "/api/v1/public/next-event-notice/unsubscribe"): everyone(422),
    # The filled-in name is a UUID, which no job name can be.
    ("POST", "/api/v1/admin/jobs/{name}/run"): admin_only(422),
    ("GET", "/api/v1/companies/aliases"): admin_only(200),
    ("PUT", "/api/v1/companies/aliases"): admin_only(422),
    # Events and registrations: unknown ids are 404 to whoever may ask at all.
    ("POST", "/api/v1/events"): admin_only(422),
    ("GET", "/api/v1/events"): signed_in(200),
    ("GET", "/api/v1/events/{event_id}"): signed_in(404),
    ("PATCH", "/api/v1/events/{event_id}"): admin_only(422),
    ("GET", "/api/v1/events/{event_id}/counts"): signed_in(404),
    ("POST", "/api/v1/events/{event_id}/status"): admin_only(422),
    ("GET", "/api/v1/public/events"): everyone(200),
    ("GET", "/api/v1/public/events/{event_id}"): everyone(404),
    ("POST", "/api/v1/events/{event_id}/registrations"): signed_in(422),
    ("GET", "/api/v1/events/{event_id}/registrations"): only("facilitator", 404, admin=404),
    ("GET", "/api/v1/events/{event_id}/registrations/sources"): admin_only(404),
    ("POST", "/api/v1/events/{event_id}/check-in"): only("facilitator", 422, admin=422),
    ("POST", "/api/v1/events/{event_id}/walk-ins"): admin_only(422),
    ("POST", "/api/v1/registrations/{registration_id}/admit"): admin_only(404),
    ("GET", "/api/v1/registrations"): signed_in(200),
    ("GET", "/api/v1/registrations/{registration_id}"): signed_in(404),
    ("POST", "/api/v1/registrations/{registration_id}/confirm"): signed_in(404),
    ("POST", "/api/v1/registrations/{registration_id}/cancel"): signed_in(404),
    ("POST", "/api/v1/registrations/{registration_id}/check-in"): only(
        "facilitator", 422, admin=422
    ),
    ("GET", "/api/v1/registrations/{registration_id}/qr"): signed_in(404),
    ("GET", "/api/v1/members/{member_id}/attendance"): admin_only(200),
    ("POST", "/api/v1/registrations/confirm-link"): everyone(422),
    # Unsigned: refused before anything is read or stored.
    ("POST", "/api/v1/integrations/timepad/webhook"): everyone(403),
    ("POST", "/api/v1/integrations/bitrix24/events"): everyone(403),
    ("POST", "/api/v1/integrations/timepad/events/{event_id}/reconcile"): admin_only(404),
    ("GET", "/api/v1/integrations/timepad/unusable"): admin_only(200),
    ("GET", "/api/v1/webhooks/event-types"): admin_only(200),
    ("POST", "/api/v1/webhooks"): admin_only(422),
    ("GET", "/api/v1/webhooks"): admin_only(200),
    ("GET", "/api/v1/webhooks/{subscription_id}"): admin_only(404),
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): admin_only(422),
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): admin_only(404),
    ("POST", "/api/v1/webhooks/{subscription_id}/rotate-secret"): admin_only(404),
    ("POST", "/api/v1/webhooks/{subscription_id}/ping"): admin_only(404),
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries"): admin_only(404),
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries/{delivery_id}"): admin_only(404),
    ("POST", "/api/v1/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver"): admin_only(
        404
    ),
    ("POST", "/api/v1/webhooks/{subscription_id}/redeliver-failed"): admin_only(422),
    # Applications: {application_id} and {review_id} name nothing, so callers who pass
    # authorization meet 404 (or 422 where a body is needed first).
    ("POST", "/api/v1/applications"): only("applicant", 422),
    ("GET", "/api/v1/applications"): signed_in(200),
    ("GET", "/api/v1/applications/stats"): admin_only(200),
    ("GET", "/api/v1/applications/decision-rule"): admin_only(200),
    ("PUT", "/api/v1/applications/decision-rule"): admin_only(422),
    ("POST", "/api/v1/applications/import"): admin_only(415),
    ("GET", "/api/v1/applications/{application_id}"): signed_in(404),
    ("PATCH", "/api/v1/applications/{application_id}"): signed_in(422),
    ("POST", "/api/v1/applications/{application_id}/submit"): signed_in(404),
    ("POST", "/api/v1/applications/{application_id}/withdraw"): signed_in(404),
    ("POST", "/api/v1/applications/{application_id}/decision"): admin_only(422),
    ("GET", "/api/v1/applications/{application_id}/reviews"): only("reviewer", 404, admin=404),
    ("POST", "/api/v1/applications/{application_id}/reviews"): only("reviewer", 422),
    ("GET", "/api/v1/applications/{application_id}/assignments"): admin_only(404),
    ("POST", "/api/v1/applications/{application_id}/reassign"): admin_only(422),
    # Reviews: the council's routes.
    ("GET", "/api/v1/reviews/queue"): only("reviewer", 200),
    ("GET", "/api/v1/reviews/rubric"): only("reviewer", 200, admin=200),
    ("PUT", "/api/v1/reviews/rubric"): admin_only(422),
    ("GET", "/api/v1/reviews/stats"): admin_only(200),
    ("GET", "/api/v1/reviews/applications/{application_id}"): only("reviewer", 404),
    ("GET", "/api/v1/reviews/applications/{application_id}/blind-copy"): admin_only(404),
    ("PUT", "/api/v1/reviews/applications/{application_id}/blind-copy"): admin_only(422),
    ("POST", "/api/v1/reviews/applications/{application_id}/recuse"): only("reviewer", 422),
    ("GET", "/api/v1/reviews/{review_id}"): only("reviewer", 404, admin=404),
    ("PATCH", "/api/v1/reviews/{review_id}"): only("reviewer", 422),
    # The test app has no Bitrix24 portal configured: admins get 409 for asking a sync.
    ("POST", "/api/v1/integrations/bitrix24/sync"): admin_only(409),
    ("GET", "/api/v1/integrations/bitrix24/sync/{run_id}"): admin_only(404),
    ("GET", "/api/v1/integrations/bitrix24/failures"): admin_only(200),
    ("POST", "/api/v1/integrations/bitrix24/reconciliation"): admin_only(409),
    ("GET", "/api/v1/integrations/bitrix24/reconciliation"): admin_only(404),
    # Seating: admins only, for an event that does not exist; my table is anyone's question.
    ("POST", "/api/v1/events/{event_id}/seating"): admin_only(422),
    ("GET", "/api/v1/events/{event_id}/seating"): admin_only(404),
    ("POST", "/api/v1/events/{event_id}/seating/moves"): admin_only(422),
    ("POST", "/api/v1/events/{event_id}/seating/swaps"): admin_only(422),
    ("POST", "/api/v1/events/{event_id}/seating/publish"): admin_only(404),
    ("GET", "/api/v1/events/{event_id}/seating/rules"): admin_only(404),
    ("PUT", "/api/v1/events/{event_id}/seating/pins/{member_id}"): admin_only(422),
    ("DELETE", "/api/v1/events/{event_id}/seating/pins/{member_id}"): admin_only(404),
    ("POST", "/api/v1/events/{event_id}/seating/keep-apart"): admin_only(422),
    ("DELETE", "/api/v1/events/{event_id}/seating/keep-apart/{member_a}/{member_b}"): admin_only(
        404
    ),
    ("GET", "/api/v1/events/{event_id}/tables"): admin_only(404),
    ("GET", "/api/v1/events/{event_id}/tables/mine"): signed_in(404),
    # Cases: the community's, not applicants'; unknown cases are 404 to the rest.
    ("POST", "/api/v1/cases"): community(422),
    ("GET", "/api/v1/cases"): community(200),
    ("GET", "/api/v1/cases/export"): community(200),
    ("GET", "/api/v1/cases/stats"): admin_only(200),
    ("GET", "/api/v1/cases/{case_id}"): community(404),
    ("PATCH", "/api/v1/cases/{case_id}"): community(422),
    ("POST", "/api/v1/cases/{case_id}/submit"): community(404),
    ("POST", "/api/v1/cases/{case_id}/withdraw"): community(404),
    ("POST", "/api/v1/cases/{case_id}/accept"): only("facilitator", 404, admin=404),
    ("POST", "/api/v1/cases/{case_id}/decline"): community(422),
    ("POST", "/api/v1/cases/{case_id}/discussed"): community(404),
    ("POST", "/api/v1/cases/{case_id}/outcome"): community(422),
    ("POST", "/api/v1/cases/{case_id}/recommendations"): community(422),
    ("GET", "/api/v1/cases/{case_id}/recommendations"): community(404),
    ("PUT", "/api/v1/cases/{case_id}/recommendations/{recommendation_id}/rating"): community(422),
    ("GET", "/api/v1/me/recommendations"): community(200),
    # Surveys: admins build and read results; the community answers; unknown ids are 404.
    ("POST", "/api/v1/surveys"): admin_only(422),
    ("POST", "/api/v1/events/{event_id}/surveys/express"): admin_only(422),
    ("GET", "/api/v1/surveys"): community(200),
    ("GET", "/api/v1/surveys/{survey_id}"): community(404),
    ("PATCH", "/api/v1/surveys/{survey_id}"): admin_only(422),
    ("POST", "/api/v1/surveys/{survey_id}/open"): admin_only(404),
    ("POST", "/api/v1/surveys/{survey_id}/close"): admin_only(404),
    ("POST", "/api/v1/surveys/{survey_id}/remind"): admin_only(404),
    ("POST", "/api/v1/surveys/{survey_id}/responses"): community(422),
    ("GET", "/api/v1/surveys/{survey_id}/my-response"): community(404),
    ("PUT", "/api/v1/surveys/{survey_id}/my-response"): community(422),
    ("GET", "/api/v1/surveys/{survey_id}/results"): admin_only(404),
    ("GET", "/api/v1/surveys/{survey_id}/results/my-table"): only("facilitator", 404),
    ("GET", "/api/v1/surveys/{survey_id}/export"): admin_only(404),
}


def _operations() -> dict[tuple[str, str], dict]:
    """Every operation the app serves, from its own OpenAPI document (a fresh app, so a route
    added anywhere shows up)."""
    document = create_app(make_settings()).openapi()
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_every_route_has_an_entry():
    assert set(_operations()) == set(MATRIX), "add the new route to MATRIX with its statuses"


def test_public_routes_are_exactly_these():
    """Operations without a security requirement: everything else is authenticated."""
    public = {key for key, operation in _operations().items() if not operation.get("security")}
    assert public == PUBLIC


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path", sorted(MATRIX))
async def test_status_per_role(client, factory, method, path, role):
    other = await factory.member("member", company="Canary Corp")
    headers = {}
    if role != "anonymous":
        actor = await factory.member(role)
        headers = actor.headers
    url = fill(path, member_id=other.id)
    response = await client.request(method, url, headers=headers)
    expected = MATRIX[(method, path)][role]
    assert response.status_code == expected, (method, path, role, response.text[:300])
