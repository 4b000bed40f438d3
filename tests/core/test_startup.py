"""What the app prepares before it serves: the route index, the side engine."""

from sqlalchemy import text

from app.core.db import create_side_engine
from app.main import create_app
from tests.conftest import IS_POSTGRES


async def test_the_route_index_is_built_before_the_first_request(settings):
    """Building it reads the whole OpenAPI document (over a second of CPU): at startup, not in
    the first request, where it would stall every request then in flight."""
    app = create_app(settings.model_copy(update={"revocation_listen": False}))
    assert getattr(app.state, "route_index", None) is None
    async with app.router.lifespan_context(app):
        index = app.state.route_index
        assert index.template("POST", "/api/v1/registrations/abc/confirm") == (
            "/api/v1/registrations/{registration_id}/confirm"
        )


async def test_side_statements_commit_on_their_own_on_postgresql_only(settings):
    side = create_side_engine(settings)
    if not IS_POSTGRES:
        assert side is None  # one writer at a time: the request's transaction takes the seat
        return
    assert side is not None
    try:
        async with side.connect() as connection:
            # Each statement is its own transaction: nothing stays open between two.
            assert await connection.scalar(text("SHOW transaction_isolation")) == "read committed"
            # A side statement never waits for a row lock without bound.
            assert await connection.scalar(text("SHOW lock_timeout")) == "5s"
            # Its COMMIT does not wait for the disk (the request's own COMMIT does).
            assert await connection.scalar(text("SHOW synchronous_commit")) == "off"
            first = await connection.scalar(text("SELECT txid_current()"))
            second = await connection.scalar(text("SELECT txid_current()"))
            assert first != second
    finally:
        await side.dispose()
