"""The check every error body must pass: RFC 9457 problem+json."""

import httpx


def assert_problem(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/problem+json"), (
        f"{response.request.method} {response.request.url} -> {response.status_code} "
        f"with {content_type!r}: {response.content[:200]!r}"
    )
    body = response.json()
    assert body["status"] == response.status_code, body
    assert isinstance(body["type"], str) and body["type"].startswith("/problems/"), body
    assert isinstance(body["title"], str) and body["title"], body
    assert "Traceback" not in response.text
    if response.status_code == 422 and body["type"] == "/problems/validation-error":
        assert isinstance(body["errors"], list) and body["errors"], body
