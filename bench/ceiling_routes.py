"""Ceiling routes for bench/: the same JWT check and the same rows through raw asyncpg.

The benchmarks serve ``bench.ceiling_routes:app``: the product's app with these routes added
(on PostgreSQL), so they show what the full stack costs next to the least a route can do in
this process. The product itself never carries them.
"""

import asyncio
import json
import uuid
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy.engine import make_url

from app.core.errors import NotFound, Unauthorized
from app.core.security import InvalidToken
from app.main import create_app

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


def create_bench_app() -> FastAPI:
    """The product's app, as ``app.asgi`` builds it, plus the ceiling routes."""
    bench_app = create_app()
    bench_app.include_router(router)
    return bench_app


app = create_bench_app()
