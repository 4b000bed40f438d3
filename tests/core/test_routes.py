"""The route index the access log, the metrics and the 405 answers read."""

import pytest

from app.core.routes import RouteIndex
from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def index() -> RouteIndex:
    return RouteIndex(create_app(make_settings()).openapi())


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/v1/me", "/api/v1/me"),
        ("GET", "/api/v1/members/0b5f", "/api/v1/members/{member_id}"),
        ("HEAD", "/api/v1/members/0b5f", "/api/v1/members/{member_id}"),
        (
            "POST",
            "/api/v1/registrations/0b5f/confirm",
            "/api/v1/registrations/{registration_id}/confirm",
        ),
        ("GET", "/api/v1/registrations/0b5f/confirm", None),  # a POST-only route
        ("GET", "/api/v1/events/upcoming-ones/registrations/extra/more", None),
        ("GET", "/api/v1/members/", None),
        ("GET", "/api/v1/calendar/abc.ics", "/api/v1/calendar/{token}.ics"),
    ],
)
def test_a_path_is_named_by_its_template(index, method, path, template):
    assert index.template(method, path) == template


def test_every_template_of_the_contract_names_its_own_paths(index):
    """Each template, its parameters filled in, is found again, with a literal sibling
    (`/reviews/queue`) preferred to a parameter (`/reviews/{review_id}`)."""
    document = create_app(make_settings()).openapi()
    for template, item in document["paths"].items():
        path = template.replace("{", "").replace("}", "")  # `{member_id}` -> `member_id`
        for method in item:
            assert index.template(method.upper(), path) == template, (method, template)


def test_allowed_methods_add_head_to_get(index):
    assert index.allowed_methods("/api/v1/members/0b5f") == ["GET", "HEAD", "PATCH"]
    assert index.allowed_methods("/api/v1/nowhere") == []
