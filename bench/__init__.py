"""The load benchmark: the full stack next to its raw-asyncpg ceiling (``make bench``)."""
