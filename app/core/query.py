"""A query parameter that takes one value, sent several times, is a 422; so is a value with a
character no text of ours takes (NUL, which PostgreSQL refuses, other control characters,
bidirectional marks): the same rule as for bodies (``core.schemas.REFUSED_CHARACTERS``).

Starlette keeps every value and FastAPI silently uses the last one, so ``?status=open&status=x``
would be read as ``status=x``: what the client meant is ambiguous, and the OpenAPI document
declares a single value. Only the parameters a route declares are checked; a list parameter
(none today) would keep its repeats.
"""

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from app.core.schemas import refused_character


def _is_sequence(annotation: object) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_sequence(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_is_sequence(arg) for arg in get_args(annotation))
    kind = origin or annotation
    return (
        isinstance(kind, type) and issubclass(kind, Sequence) and not issubclass(kind, str | bytes)
    )


_CACHE = "_single_valued_query_names"


def _query_fields(dependant: Dependant) -> list[Any]:
    fields = list(dependant.query_params)
    for dependency in dependant.dependencies:
        fields.extend(_query_fields(dependency))
    return fields


def _single_valued(route: APIRoute) -> tuple[str, ...]:
    """The route's query parameters (its dependencies' too) that take one value; worked out
    once per route and kept on it (routes are not hashable, and live as long as the app)."""
    names: tuple[str, ...] | None = getattr(route, _CACHE, None)
    if names is None:
        names = tuple(
            dict.fromkeys(
                f.alias
                for f in _query_fields(route.dependant)
                if not _is_sequence(f.field_info.annotation)
            )
        )
        setattr(route, _CACHE, names)
    return names


def _refuse_characters(request: Request) -> None:
    found = [
        (name, char)
        for name, value in request.query_params.multi_items()
        if (char := refused_character(value)) is not None
    ]
    if found:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "must not contain control or bidirectional formatting characters "
                    f"(found U+{ord(char):04X})",
                    "type": "value_error",
                }
                for name, char in found
            ]
        )


async def single_valued_query(request: Request) -> None:
    """Route dependency: refuses a repeated single-valued query parameter, and a value with a
    refused character."""
    query: bytes = request.scope.get("query_string", b"")
    # Such a character reaches us percent-encoded (or as a raw non-ASCII byte): a plain query
    # cannot hold one, and is not decoded for it.
    if b"%" in query or not query.isascii():
        _refuse_characters(request)
    if b"&" not in query:
        return  # one parameter at most: nothing can repeat (the common case, no parsing)
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    repeated = [
        name for name in _single_valued(route) if len(request.query_params.getlist(name)) > 1
    ]
    if repeated:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": "Give this parameter once.", "type": "repeated"}
                for name in repeated
            ]
        )
