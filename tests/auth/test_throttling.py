"""Login throttling as an attacker meets it (checklist A6): twenty guesses at one account,
a fifty-account spray from one address, and the ceiling on guesses per account per hour."""

from app.core.config import Settings

PASSWORD = "correct horse battery"


async def _signup(client, email: str) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "full_name": "Anna Petrova"},
    )
    assert response.status_code == 202, response.text


async def _login(client, email: str, password: str):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_twenty_bad_passwords_on_one_account(client, app):
    await _signup(client, "target@example.com")
    limit = app.state.settings.login_max_failures_per_account
    statuses = [
        (await _login(client, "target@example.com", f"guess number {n}")).status_code
        for n in range(20)
    ]
    assert statuses == [401] * limit + [429] * (20 - limit)
    blocked = await _login(client, "target@example.com", PASSWORD)  # the right one waits too
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


async def test_a_fifty_account_spray_from_one_address_is_throttled(client, app):
    """One password tried against fifty accounts (known and unknown alike) from one address:
    after the per-address limit every attempt is 429, the real accounts included."""
    for n in range(0, 50, 10):
        await _signup(client, f"staff{n}@example.com")
    limit = app.state.settings.login_max_failures_per_address
    statuses = []
    for n in range(50):
        response = await _login(client, f"staff{n}@example.com", "Winter2026!")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    # A real account with its right password, from the same address, waits as well.
    assert (await _login(client, "staff0@example.com", PASSWORD)).status_code == 429
    # Unknown and known accounts were answered alike while they were answered.
    unknown = await _login(client, "nobody@example.com", "x" * 12)
    assert unknown.status_code == 429


def test_guesses_per_account_per_hour_stay_under_a_hundred():
    """NIST SP 800-63B allows at most 100 consecutive failures per account: the defaults let
    an attacker make (failures per window) x (windows per hour) guesses an hour."""
    settings = Settings(jwt_secret="g" * 32)
    per_hour = settings.login_max_failures_per_account * 3600 / settings.login_window_seconds
    assert per_hour <= 100, per_hour  # 5 per 15 min: 20 an hour
