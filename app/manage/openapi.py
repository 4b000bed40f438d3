"""Writes (or, with --check, compares) the committed OpenAPI document: ``make openapi``."""

import json
import sys
from pathlib import Path

from app.core.config import Settings
from app.main import create_app

PATH = Path("openapi/openapi.json")


def render() -> str:
    # A fixed throwaway secret: generating the document must not create var/ files.
    app = create_app(
        Settings(
            environment="test",
            jwt_secret="openapi-" + "x" * 32,
            password_hash_memory_kib=64,
            password_hash_time_cost=1,
        )
    )
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(check: bool = False) -> int:
    rendered = render()
    if check:
        if not PATH.exists() or PATH.read_text() != rendered:
            print("openapi/openapi.json is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(rendered)
    return 0
