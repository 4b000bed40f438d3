"""A single-valued query parameter sent twice is refused, not resolved to one of its values."""


async def test_a_repeated_parameter_is_a_validation_error(client, factory):
    member = await factory.member("member")
    response = await client.get(
        "/api/v1/events?status=published&limit=5&limit=6", headers=member.headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    assert body["errors"] == [
        {"loc": ["query", "limit"], "msg": "Give this parameter once.", "type": "repeated"}
    ]


async def test_parameters_given_once_and_undeclared_repeats_pass(client, factory):
    member = await factory.member("member")
    response = await client.get(
        "/api/v1/events?status=published&limit=5&x=1&x=2", headers=member.headers
    )
    assert response.status_code == 200, response.text


async def test_public_routes_refuse_repeats_too(client):
    response = await client.get("/api/v1/public/events?when=past&when=upcoming")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "when"]


async def test_authentication_comes_first(client):
    response = await client.get("/api/v1/events?limit=5&limit=6")
    assert response.status_code == 401
