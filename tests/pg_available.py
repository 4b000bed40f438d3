"""Exit 0 when the PostgreSQL server of the given URL answers (used by `make test`)."""

import asyncio
import sys

from sqlalchemy.engine import make_url


async def _probe(url: str) -> bool:
    import asyncpg

    parsed = make_url(url)
    try:
        connection = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database="postgres",
            timeout=3,
        )
    except Exception:  # any failure means "not available"
        return False
    await connection.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(_probe(sys.argv[1])) else 1)
