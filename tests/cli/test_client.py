"""The HTTP layer and the config file of `dl`, without a server: retries, keys, cursors."""

import stat

import httpx
import pytest

from app.cli import config
from app.cli.client import ApiClient, ApiError


def _client(handler) -> tuple[ApiClient, list[float]]:
    waits: list[float] = []
    return ApiClient(
        "http://api.test", "tok", transport=httpx.MockTransport(handler), sleep=waits.append
    ), waits


def test_a_create_is_retried_with_the_same_idempotency_key():
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        assert request.headers["Authorization"] == "Bearer tok"
        if len(keys) == 1:
            raise httpx.ReadTimeout("lost the answer", request=request)
        if len(keys) == 2:
            return httpx.Response(
                503,
                headers={"Retry-After": "2"},
                json={"title": "Service unavailable", "status": 503},
            )
        return httpx.Response(201, json={"id": "e1"})

    api, waits = _client(handler)
    assert api.post("/events", {"title": "x"}, idempotent=True) == {"id": "e1"}
    assert len(keys) == 3 and len(set(keys)) == 1
    assert waits == [0.5, 2.0]


def test_a_plain_post_is_not_retried_and_errors_carry_the_problem():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert "Idempotency-Key" not in request.headers
        return httpx.Response(
            503,
            json={
                "type": "/problems/unavailable",
                "title": "Service unavailable",
                "status": 503,
                "detail": "The database did not answer.",
            },
        )

    api, _ = _client(handler)
    with pytest.raises(ApiError) as caught:
        api.post("/events/1/status", {"status": "published"})
    assert len(calls) == 1
    assert (caught.value.status, caught.value.title, caught.value.detail) == (
        503,
        "Service unavailable",
        "The database did not answer.",
    )


def test_an_answer_that_is_not_a_problem_is_still_reported():
    api, _ = _client(lambda request: httpx.Response(404, text="<html>nginx</html>"))
    with pytest.raises(ApiError) as caught:
        api.get("/members")
    assert caught.value.title == "HTTP 404 Not Found"
    assert caught.value.detail == "<html>nginx</html>"


def test_paginate_follows_cursors_and_asks_only_for_what_the_limit_needs():
    asked: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limit, cursor = request.url.params["limit"], request.url.params.get("cursor")
        asked.append((limit, cursor))
        start = int(cursor or 0)
        items = [{"n": n} for n in range(start, min(start + int(limit), 250))]
        following = str(start + len(items)) if start + len(items) < 250 else None
        return httpx.Response(200, json={"items": items, "next_cursor": following})

    api, _ = _client(handler)
    assert [i["n"] for i in api.paginate("/members", {"city": "Kazan"})] == list(range(250))
    assert asked == [("100", None), ("100", "100"), ("100", "200")]
    asked.clear()
    assert len(list(api.paginate("/members", limit=130))) == 130
    assert asked == [("100", None), ("30", "100")]


def test_config_file_is_private_and_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("DL_URL", raising=False)
    monkeypatch.delenv("DL_TOKEN", raising=False)
    path = config.store_profile("ci", config.Profile(url="https://api.test/", token="dl_pat_x"))
    assert path == tmp_path / "digital-leaders" / "dl.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["dl.json"]  # no temporary left
    assert config.resolve("ci") == config.Target("https://api.test", "dl_pat_x", "ci")

    monkeypatch.setenv("DL_TOKEN", "from-env")
    assert config.resolve("ci").token == "from-env"
    with pytest.raises(config.ConfigError):
        config.resolve("other")

    # A relative XDG_CONFIG_HOME is to be ignored, says the specification.
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.config_dir() == tmp_path / "home" / ".config" / "digital-leaders"
