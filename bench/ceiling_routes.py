"""Ceiling and peer routes for bench/, served next to the product's own routes.

- ``/bench/members...`` (the ceiling): the same JWT check and the same rows through raw
  asyncpg, the least a route can do in this process;
- ``/bench/peer/members...`` (the peer): what a user would write instead, the way the
  full-stack-fastapi-template does: an ``AsyncSession``, ``session.get(Member, id)`` or a
  ``select``, a ``response_model``, behind the product's own JWT dependency.

The benchmarks serve ``bench.ceiling_routes:app``: the product's app with these routes added
(on PostgreSQL). The product itself never carries them.
"""

import asyncio
import json
import uuid
from datetime import date
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.auth.permissions import PrincipalDep
from app.core.db import SessionDep
from app.core.errors import NotFound, Unauthorized
from app.core.security import InvalidToken
from app.main import create_app
from app.models.member import Member

router = APIRouter(prefix="/bench", include_in_schema=False)

_COLUMNS = (
    "id, full_name, city, function, seniority, industry, expertise_tags, bio, links, "
    "status, member_since"
)


# The first requests arrive together: without the lock each would open a pool of its own
# (16 connections at once ran PostgreSQL out of connection slots on a shared server).
_pool_lock = asyncio.Lock()


async def _pool(request: Request) -> Any:
    pool = getattr(request.app.state, "bench_pool", None)
    if pool is not None:
        return pool
    async with _pool_lock:
        pool = getattr(request.app.state, "bench_pool", None)
        if pool is None:
            url = make_url(request.app.state.settings.database_url)
            pool = await asyncpg.create_pool(
                host=url.host,
                port=url.port or 5432,
                user=url.username,
                password=url.password,
                database=url.database,
                min_size=2,
                max_size=10,
            )
            request.app.state.bench_pool = pool
    return pool


def _authenticate(request: Request) -> None:
    header = request.headers.get("authorization", "")
    try:
        request.app.state.token_codec.decode(header.removeprefix("Bearer "))
    except InvalidToken as error:
        raise Unauthorized() from error


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    row["id"] = str(row["id"])
    row["member_since"] = row["member_since"].isoformat() if row["member_since"] else None
    row["expertise_tags"] = json.loads(row["expertise_tags"])
    row["links"] = json.loads(row["links"])
    return row


@router.get("/members/{member_id}")
async def bench_member(member_id: uuid.UUID, request: Request) -> Response:
    _authenticate(request)
    pool = await _pool(request)
    record = await pool.fetchrow(f"SELECT {_COLUMNS} FROM member WHERE id = $1", member_id)
    if record is None:
        raise NotFound()
    return Response(json.dumps(_row(record)), media_type="application/json")


@router.get("/members")
async def bench_members(request: Request, limit: int = 50) -> Response:
    _authenticate(request)
    pool = await _pool(request)
    records = await pool.fetch(
        f"SELECT {_COLUMNS} FROM member ORDER BY full_name, id LIMIT $1", min(limit, 100)
    )
    return Response(
        json.dumps({"items": [_row(r) for r in records], "next_cursor": None}),
        media_type="application/json",
    )


class PeerMember(BaseModel):
    """The template's "public" model of a row: the same columns the ceiling returns."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str
    city: str | None
    function: str | None
    seniority: int | None
    industry: str | None
    expertise_tags: list[str]
    bio: str | None
    links: list[Any]
    status: str
    member_since: date | None


class PeerMembers(BaseModel):
    items: list[PeerMember]
    next_cursor: str | None = None


@router.get("/peer/members/{member_id}", response_model=PeerMember)
async def peer_member(member_id: uuid.UUID, session: SessionDep, _: PrincipalDep) -> Any:
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound()
    return member


@router.get("/peer/members", response_model=PeerMembers)
async def peer_members(session: SessionDep, _: PrincipalDep, limit: int = 50) -> Any:
    rows = await session.execute(
        select(Member).order_by(Member.full_name, Member.id).limit(min(limit, 100))
    )
    return {"items": list(rows.scalars())}


def create_bench_app() -> FastAPI:
    """The product's app, as ``app.asgi`` builds it, plus the ceiling and peer routes."""
    bench_app = create_app()
    bench_app.include_router(router)
    return bench_app


app = create_bench_app()
