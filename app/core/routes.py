"""What the app serves, read from its own OpenAPI document: path templates and their methods.

Used where a layer outside routing needs route facts (the 405 ``Allow`` header, which routes
create resources); the contract is public and stable where the router internals are not.
"""

import re
from dataclasses import dataclass
from typing import Any

_PARAMETER = re.compile(r"\\\{[^}]+\\\}")


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    status_codes: frozenset[str]


class RouteIndex:
    """Looked up on every request (the access log's route): the templates are kept by their
    number of segments, the only ones a path can match, so a lookup tries a handful of
    patterns instead of every path of the API."""

    def __init__(self, openapi: dict[str, Any]):
        self._paths: dict[int, list[tuple[re.Pattern[str], list[Operation]]]] = {}
        self._templates: dict[int, list[tuple[int, str, re.Pattern[str], frozenset[str]]]] = {}
        for template, item in openapi.get("paths", {}).items():
            escaped = re.escape(template)
            pattern = re.compile("^" + _PARAMETER.sub("[^/]+", escaped) + "$")
            operations = [
                Operation(method.upper(), frozenset(operation.get("responses", {})))
                for method, operation in item.items()
            ]
            segments = template.count("/")
            self._paths.setdefault(segments, []).append((pattern, operations))
            methods = frozenset(op.method for op in operations)
            parameters = len(_PARAMETER.findall(escaped))
            self._templates.setdefault(segments, []).append(
                (parameters, template, pattern, methods)
            )
        # Fewest parameters first: `/members/me` before `/members/{member_id}`, as routing has it.
        for candidates in self._templates.values():
            candidates.sort(key=lambda entry: entry[0])

    def operations(self, path: str) -> list[Operation]:
        for pattern, operations in self._paths.get(path.count("/"), ()):
            if pattern.match(path):
                return operations
        return []

    def template(self, method: str, path: str) -> str | None:
        """The path template serving ``method`` on ``path`` (for logs and metrics), if any."""
        method = "GET" if method == "HEAD" else method
        for _, template, pattern, methods in self._templates.get(path.count("/"), ()):
            if method in methods and pattern.match(path):
                return template
        return None

    def allowed_methods(self, path: str) -> list[str]:
        methods = {operation.method for operation in self.operations(path)}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def creates(self, method: str, path: str) -> bool:
        """Whether the route makes something (201) or accepts work (202): a retry of such a
        POST must not make or send it twice, so it takes an Idempotency-Key."""
        return any(
            op.method == method and not IDEMPOTENT_STATUSES.isdisjoint(op.status_codes)
            for op in self.operations(path)
        )


# The statuses of the POSTs that take an Idempotency-Key (see ``RouteIndex.creates``).
IDEMPOTENT_STATUSES = frozenset({"201", "202"})


def route_index(app: Any) -> RouteIndex:
    """The app's index, built once from its OpenAPI document."""
    index: RouteIndex | None = getattr(app.state, "route_index", None)
    if index is None:
        index = RouteIndex(app.openapi())
        app.state.route_index = index
    return index
