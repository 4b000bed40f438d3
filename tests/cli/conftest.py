"""The `dl` command against the app served on a real local port, with committed data.

The command is synchronous (httpx) while the server runs in the test's event loop, so each
invocation runs in a thread and the loop keeps serving. Every table is emptied after each test
(the ``live`` fixture).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner, Result

from app.cli.main import app as cli_app
from app.models.member import Member, MemberRole
from tests.conftest import committed_member
from tests.receivers import serve

PASSWORD = "a long password"  # what committed_member gives everyone


@dataclass
class Dl:
    """Runs `dl` with DL_URL / DL_TOKEN pointing at the served app (unless told otherwise)
    and a config directory of the test's own."""

    url: str
    token: str
    config_home: Path

    async def __call__(
        self,
        *args: str,
        token: str | None = None,
        url: str | None = None,
        env: dict[str, str | None] | None = None,
        input: str | None = None,
    ) -> Result:
        environment: dict[str, str | None] = {
            "DL_URL": self.url if url is None else url,
            "DL_TOKEN": self.token if token is None else token,
            "XDG_CONFIG_HOME": str(self.config_home),
            "DL_PROFILE": None,
            "DL_PASSWORD": None,
            "NO_COLOR": "1",
        }
        environment.update(env or {})
        runner = CliRunner()
        return await asyncio.to_thread(
            runner.invoke, cli_app, list(args), env=environment, input=input
        )

    async def json(self, *args: str, **kwargs: Any) -> Any:
        result = await self(*args, "--json", **kwargs)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)


async def committed_people(engine, count: int, *roles: str, **fields: Any) -> list[Member]:
    """``count`` people committed at once, named "<prefix> 000"... (``prefix`` defaults to the
    first role), with ``fields`` on each."""
    roles = roles or ("member",)
    prefix = fields.pop("prefix", roles[0].capitalize())
    tag = uuid.uuid4().hex[:6]
    people = []
    for i in range(count):
        email = f"{prefix.lower()}{i:03d}-{tag}@example.com"
        people.append(
            Member(email=email, email_normalized=email, full_name=f"{prefix} {i:03d}", **fields)
        )
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        session.add_all(people)
        await session.flush()
        session.add_all(MemberRole(member_id=p.id, role=r) for p in people for r in roles)
        await session.commit()
    return people


@pytest.fixture
async def served(app, engine, live) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest.fixture
async def admin(app, engine) -> tuple[Any, dict[str, str]]:
    return await committed_member(app, engine, "admin", "member")


@pytest.fixture
async def dl(served, admin, tmp_path) -> Dl:
    _, headers = admin
    return Dl(
        url=served,
        token=headers["Authorization"].removeprefix("Bearer "),
        config_home=tmp_path / "config",
    )
