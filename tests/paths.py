"""Concrete URLs from OpenAPI path templates, for the sweeps over every route."""

import re
import uuid
from typing import Any


def fill(path: str, **known: Any) -> str:
    """Put the given values into their parameters, and a fresh unknown id into every other."""
    return re.sub(r"\{(\w+)\}", lambda m: str(known.get(m[1], uuid.uuid4())), path)
