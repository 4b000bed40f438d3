"""Writes (or, with --check, compares) the committed OpenAPI document: ``make openapi``."""

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    rendered = render()
    if args.check:
        if not PATH.exists() or PATH.read_text() != rendered:
            print("openapi/openapi.json is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
